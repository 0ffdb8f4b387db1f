"""The generated broker ACL, enforced by a real mosquitto: each node is confined to its own
subtree (it cannot speak for another lane, nor read another lane's commands); the platform
reads every node and commands any."""

from __future__ import annotations

import queue

import paho.mqtt.client as mqtt

from agent.contract.broker import acl_text
from agent.contract.topics import Kind, Topic, node_filter

USERS = {"lane-1": "pw-lane-1", "lane-2": "pw-lane-2", "platform": "pw-platform"}


class Client:
    def __init__(self, port: int, user: str):
        self.got: queue.Queue = queue.Queue()
        self.subscribed: queue.Queue = queue.Queue()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"acl-{user}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, USERS[user])
        self.c.on_message = lambda c, u, m: self.got.put((m.topic, m.payload))
        self.c.on_subscribe = lambda c, u, mid, codes, props: self.subscribed.put(codes)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def sub(self, topic: str) -> None:
        self.c.subscribe(topic, qos=1)
        self.subscribed.get(timeout=5)

    def pub(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def topics(self, wait: float = 0.5) -> list[str]:
        out = []
        try:
            while True:
                out.append(self.got.get(timeout=wait)[0])
        except queue.Empty:
            return out

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_each_node_is_confined_to_its_own_subtree(mosquitto_factory):
    broker = mosquitto_factory(passwords=USERS, acl=acl_text("yt").splitlines())
    platform, lane1 = Client(broker.port, "platform"), Client(broker.port, "lane-1")
    try:
        platform.sub("portedge/v1/yt/+/evt/+")
        lane1.sub(node_filter("yt", "lane-1", Kind.CMD))
        lane1.sub(node_filter("yt", "lane-2", Kind.CMD))  # granted or not, nothing may arrive
        lane1.pub(str(Topic("yt", "lane-1", Kind.EVT, "scan")), b"mine")
        lane1.pub(str(Topic("yt", "lane-2", Kind.EVT, "scan")), b"speaking for lane-2")
        platform.pub(str(Topic("yt", "lane-1", Kind.CMD, "reread")), b"for lane-1")
        platform.pub(str(Topic("yt", "lane-2", Kind.CMD, "reread")), b"for lane-2")
        assert platform.topics() == ["portedge/v1/yt/lane-1/evt/scan"]
        assert lane1.topics() == ["portedge/v1/yt/lane-1/cmd/reread"]
    finally:
        platform.close()
        lane1.close()
