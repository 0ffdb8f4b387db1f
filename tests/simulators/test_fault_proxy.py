"""The fault proxy carries MQTT to a real mosquitto, and its faults are seen by a paho client."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from simulators.faults import FaultProxy


class Probe:
    def __init__(self, port: int):
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.got: list[bytes] = []
        self.arrived = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe", protocol=mqtt.MQTTv5)
        c.on_connect = lambda *a: (self.disconnected.clear(), self.connected.set())
        c.on_disconnect = lambda *a: (self.connected.clear(), self.disconnected.set())
        c.on_message = lambda cl, u, m: (self.got.append(m.payload), self.arrived.set())
        c.on_subscribe = lambda *a: self.subscribed.set()
        self.subscribed = threading.Event()
        c.reconnect_delay_set(0.05, 0.2)
        c.connect("127.0.0.1", port, keepalive=5)
        c.loop_start()
        self.c = c
        assert self.connected.wait(5)
        c.subscribe("t", qos=1)
        assert self.subscribed.wait(5)

    def roundtrip(self, payload: bytes) -> bool:
        self.arrived.clear()
        self.c.publish("t", payload, qos=1)
        return self.arrived.wait(5) and self.got[-1] == payload

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def proxy(mosquitto):
    p = FaultProxy("127.0.0.1", mosquitto.port).start()
    yield p
    p.stop()


def test_carries_traffic_and_adds_latency(proxy):
    probe = Probe(proxy.port)
    try:
        proxy.latency_s = 0.05
        assert probe.roundtrip(b"slow but there")
        assert proxy.stats.bytes_up > 0 and proxy.stats.bytes_down > 0
    finally:
        probe.close()


def test_reset_disconnects_and_client_comes_back(proxy):
    probe = Probe(proxy.port)
    try:
        proxy.reset()
        assert probe.disconnected.wait(5), "the client never saw the reset"
        assert probe.connected.wait(10), "the client did not reconnect through the proxy"
        assert proxy.stats.resets == 1 and proxy.stats.connections == 2
    finally:
        probe.close()


def test_stall_holds_bytes_until_resume(proxy):
    probe = Probe(proxy.port)
    try:
        proxy.stall()
        probe.arrived.clear()
        probe.c.publish("t", b"held", qos=1)
        assert not probe.arrived.wait(0.5)
        proxy.resume()
        assert probe.arrived.wait(5) and probe.got[-1] == b"held"
    finally:
        probe.close()


def test_refuse_keeps_the_broker_unreachable(proxy):
    import socket

    proxy.refuse(True)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        try:
            assert s.recv(1) == b"", "a refused connection must be closed by the proxy"
        except ConnectionResetError:
            pass
    assert proxy.stats.refused == 1
    proxy.refuse(False)
    probe = Probe(proxy.port)
    try:
        assert probe.roundtrip(b"back")
    finally:
        probe.close()


def test_only_loopback_targets():
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("8.8.8.8", 1883)
