"""Finding: one node's credentials knocked any other node off the broker, and a node could
publish under another site. Against a real mosquitto set up as `portedge contract --format
mosquitto/acl` say: lane-2's password with client id `lane-1` neither kicks lane-1 off, nor
inherits its session (and its queued commands), nor publishes as lane-1 or under another site.

The nodes connect with the agent's own client settings (`agent.link.link.make_client`:
persistent session, client id = node id unless configured)."""

from __future__ import annotations

import os
import queue
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
import trustme

from agent.config.model import NodeConfig
from agent.contract.broker import IDENTITY_SETTINGS, acl_text, mosquitto_conf
from agent.contract.topics import Kind, Topic, node_filter
from agent.link.link import make_client
from simulators.mosquitto import find_mosquitto, free_port

USERS = {"lane-1": "pw-lane-1", "lane-2": "pw-lane-2", "platform": "pw-platform", "auditor": "pw-auditor"}
AUDITOR = ["user auditor", "topic read #"]  # test-only: sees every publish that gets through


class Node:
    """A node's MQTT connection made exactly as the agent makes it."""

    def __init__(self, port: int, node: str, username: str, client_id: str | None = None, **broker):
        config = NodeConfig.model_validate({
            "node": {"id": node, "site": "yt", "role": "gate"},
            "broker": {"url": f"mqtt://127.0.0.1:{port}", "client_id": client_id, "username": username,
                       "password": USERS[username], "keepalive_s": 5, **broker},
        })
        self.client, args = make_client(config, b'{"state":"lost"}', str(Topic("yt", node, Kind.STATE)))
        self.got: queue.Queue = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.disconnects = 0
        self.client.on_message = lambda c, u, m: self.got.put((m.topic, bytes(m.payload)))
        self.client.on_connect = lambda c, u, flags, rc, p: self.connected.put((rc.is_failure, flags.session_present))
        self.client.on_disconnect = self._gone
        self.client.on_subscribe = lambda *a: self.connected.put("suback")
        self.client.connect(**args)
        self.client.loop_start()
        failed, self.session_present = self.connected.get(timeout=5)
        assert not failed, f"{username} could not connect"

    def _gone(self, *args) -> None:
        self.disconnects += 1

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self.connected.get(timeout=5) == "suback"

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def messages(self, wait: float = 0.5) -> list[tuple[str, bytes]]:
        out = []
        try:
            while True:
                out.append(self.got.get(timeout=wait))
        except queue.Empty:
            return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Platform:
    def __init__(self, port: int, user: str = "platform"):
        self.got: queue.Queue = queue.Queue()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"any-{user}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, USERS[user])
        self.c.on_message = lambda c, u, m: self.got.put(m.topic)
        subscribed: queue.Queue = queue.Queue()
        self.c.on_subscribe = lambda *a: subscribed.put(True)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe("#", qos=1)
        subscribed.get(timeout=5)

    def command(self, node: str, payload: bytes) -> None:
        self.c.publish(str(Topic("yt", node, Kind.CMD, "reread")), payload, qos=1).wait_for_publish(5)

    def topics(self, wait: float = 0.5) -> list[str]:
        out = []
        try:
            while True:
                out.append(self.got.get(timeout=wait))
        except queue.Empty:
            return out

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def broker(mosquitto_factory):
    return mosquitto_factory(passwords=USERS, acl=[*acl_text("yt").splitlines(), *AUDITOR],
                             extra=IDENTITY_SETTINGS)


def test_another_nodes_credentials_cannot_kick_a_node_off_or_take_its_commands(broker):
    platform = Platform(broker.port)
    lane1 = Node(broker.port, "lane-1", "lane-1")
    lane1.subscribe(node_filter("yt", "lane-1", Kind.CMD))
    try:
        for i in range(5):  # lane-2's password, lane-1's client id, again and again
            thief = Node(broker.port, "lane-1", "lane-2", client_id="lane-1")
            thief.subscribe(node_filter("yt", "lane-1", Kind.CMD))
            platform.command("lane-1", f"open {i}".encode())
            thief.close()
        time.sleep(0.3)
        assert lane1.disconnects == 0, "lane-1 was knocked off by another node's credentials"
        assert [p for _, p in lane1.messages()] == [f"open {i}".encode() for i in range(5)]
        assert lane1.client.is_connected()
    finally:
        lane1.close()
        platform.close()


def test_a_node_away_keeps_its_queued_commands_from_a_thief(broker):
    platform = Platform(broker.port)
    lane1 = Node(broker.port, "lane-1", "lane-1")
    lane1.subscribe(node_filter("yt", "lane-1", Kind.CMD))
    lane1.close()  # away, with a persistent session: commands for it are queued
    platform.command("lane-1", b"queued while away")
    thief = Node(broker.port, "lane-1", "lane-2", client_id="lane-1")
    try:
        assert not thief.session_present, "lane-2's credentials were handed lane-1's session"
        assert thief.messages() == []
    finally:
        thief.close()
    lane1 = Node(broker.port, "lane-1", "lane-1")
    try:
        assert lane1.session_present
        assert [p for _, p in lane1.messages(wait=1.0)] == [b"queued while away"]
    finally:
        lane1.close()
        platform.close()


def test_a_node_publishes_only_for_itself_and_only_under_its_site(broker):
    auditor = Platform(broker.port, "auditor")
    lane2 = Node(broker.port, "lane-2", "lane-2")
    try:
        lane2.publish("portedge/v1/other-site/lane-2/evt/scan", b"my name, another site")
        lane2.publish("portedge/v1/yt/lane-1/evt/scan", b"another node")
        lane2.publish("portedge/v1/other-site/lane-1/cmd/barrier_open", b"a command")
        lane2.publish("portedge/v1/yt/lane-2/evt/scan", b"mine")
        assert auditor.topics() == ["portedge/v1/yt/lane-2/evt/scan"]
    finally:
        lane2.close()
        auditor.close()


def test_the_generated_mosquitto_conf_runs_and_holds_the_identity_rules(tmp_path):
    """The files docs/security.md tells an operator to install, as written (paths and the
    listener moved to a private folder and loopback)."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    (tmp_path / "certs").mkdir()
    ca.cert_pem.write_to_path(str(tmp_path / "certs/ca.crt"))
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "certs/broker.crt"))
    server.private_key_pem.write_to_path(str(tmp_path / "certs/broker.key"))
    passwd = tmp_path / "portedge.passwd"
    passwd.touch(mode=0o600)
    for user, password in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True)
    (tmp_path / "portedge.acl").write_text(acl_text("yt"))
    port = free_port()
    conf = mosquitto_conf("yt", folder=str(tmp_path), listener=f"{port} 127.0.0.1")
    if os.geteuid() == 0:  # as root mosquitto drops to user "mosquitto", which cannot read tmp_path
        conf += "user root\n"
    (tmp_path / "mosquitto.conf").write_text(conf + f"persistence_location {tmp_path}/\n")
    log = open(tmp_path / "mosquitto.log", "wb")
    proc = subprocess.Popen([find_mosquitto(), "-c", str(tmp_path / "mosquitto.conf")], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        tls = {"url": f"mqtts://127.0.0.1:{port}", "ca_file": str(tmp_path / "certs/ca.crt")}
        deadline = time.monotonic() + 10
        while True:
            try:
                lane1 = Node(port, "lane-1", "lane-1", **tls)
                break
            except (OSError, AssertionError, queue.Empty):
                assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
                assert time.monotonic() < deadline, "the generated broker config never accepted lane-1"
                time.sleep(0.1)
        try:
            thief = Node(port, "lane-1", "lane-2", client_id="lane-1", **tls)
            thief.close()
            time.sleep(0.3)
            assert lane1.disconnects == 0 and lane1.client.is_connected()
        finally:
            lane1.close()
        with pytest.raises(AssertionError, match="could not connect"):
            Node(port, "lane-1", "lane-1", password="wrong", **tls).close()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
