"""The harness itself: mosquitto starts, restarts on the same port, and carries messages."""

import threading

import paho.mqtt.client as mqtt


def _roundtrip(url_port: int) -> bytes:
    got = threading.Event()
    box = {}

    def on_message(client, userdata, msg):
        box["payload"] = msg.payload
        got.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="harness", protocol=mqtt.MQTTv5)
    c.on_message = on_message
    c.connect("127.0.0.1", url_port)
    c.subscribe("t/x", qos=1)
    c.loop_start()
    try:
        c.publish("t/x", b"hello", qos=1).wait_for_publish(5)
        assert got.wait(5), "no message came back through the broker"
    finally:
        c.loop_stop()
        c.disconnect()
        c._sock_close() if hasattr(c, "_sock_close") else None
    return box["payload"]


def test_broker_carries_a_message(mosquitto):
    assert mosquitto.url.startswith("mqtt://127.0.0.1:")
    assert _roundtrip(mosquitto.port) == b"hello"


def test_broker_restarts_on_the_same_port(mosquitto):
    port = mosquitto.port
    mosquitto.restart()
    assert mosquitto.port == port
    assert _roundtrip(port) == b"hello"
