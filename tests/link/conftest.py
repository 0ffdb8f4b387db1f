"""Link test helpers: a node config pointing at the test broker, and a platform-side collector."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.config.model import NodeConfig
from agent.contract.batch import records

#: the durability tests run with records batched on the wire (the default) and one per message
BATCHING = ["batched", "one-per-message"]


def batching(mode: str) -> dict:
    """The [link] section for a BATCHING mode."""
    on = mode == "batched"
    return {"batch": {c: {"enabled": on} for c in ("control", "transactional", "telemetry")}}


def node_config(url: str, db, *, node: str = "lane-1", version: str = "5", batch: str = "batched",
                **broker) -> NodeConfig:
    return NodeConfig.model_validate({
        "node": {"id": node, "site": "yt", "role": "gate", "heartbeat_s": broker.pop("heartbeat_s", 3600)},
        "broker": {"url": url, "mqtt_version": version, "reconnect_base_s": 0.05, "reconnect_cap_s": 0.5,
                   "keepalive_s": 5, **broker},
        "storage": {"path": str(db)},
        "link": batching(batch),
    })


class Collector:
    """The platform's side: a persistent-session subscriber that survives broker restarts."""

    def __init__(self, port: int, filters: list[str], client_id: str = "platform", username: str | None = None,
                 password: str | None = None, **tls):
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._filters = filters
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.reconnect_delay_set(0.05, 0.3)
        self.sessions: list[bool] = []  # session_present of every connect: False after the first = lost queue
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        if tls:
            c.tls_set(**tls)
        if username:
            c.username_pw_set(username, password)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        c.connect("127.0.0.1", port, keepalive=5, clean_start=False, properties=props)
        c.loop_start()
        self.client = c
        self.wait(lambda: c.is_connected(), 5, "collector did not connect")
        time.sleep(0.2)  # SUBACK

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            self.sessions.append(bool(flags.session_present))
            client.subscribe([(x, 1) for x in self._filters])

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def payloads(self, topic_part: str = "") -> list[dict]:
        """Every envelope received on a matching topic; a batch's records one by one."""
        with self._lock:
            return [env for t, p in self.messages if topic_part in t and p for env in records(json.loads(p))]

    def publish(self, topic: str, payload: bytes, props: Properties | None = None) -> None:
        self.client.publish(topic, payload, qos=1, properties=props).wait_for_publish(5)

    @staticmethod
    def wait(pred: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError(what)
            time.sleep(0.02)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client._reset_sockets()


@pytest.fixture
def collector_factory():
    made: list[Collector] = []

    def make(port: int, filters: list[str], **kw) -> Collector:
        c = Collector(port, filters, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
