"""The demo's embedded broker carries QoS 1 MQTT 3.1.1 traffic between two paho clients."""

import threading

import paho.mqtt.client as mqtt

from simulators.embedded_broker import EmbeddedBroker


def test_embedded_broker_roundtrip():
    with EmbeddedBroker() as broker:
        got = threading.Event()
        box = []
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sub", protocol=mqtt.MQTTv311)
        sub.on_message = lambda c, u, m: (box.append(m.payload), got.set())
        subscribed = threading.Event()
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv311)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        try:
            sub.subscribe("portedge/v1/yt/+/evt/+", qos=1)
            assert subscribed.wait(5)
            pub.publish("portedge/v1/yt/lane-1/evt/scan", b'{"x":1}', qos=1).wait_for_publish(5)
            assert got.wait(5) and box == [b'{"x":1}']
        finally:
            for c in (pub, sub):
                c.disconnect()
                c.loop_stop()


def test_a_fault_inside_amqtt_is_one_line_not_a_traceback(caplog):
    # amqtt can fail inside its client callback while the demo stops (a session torn down as it
    # walks its subscriptions); the broker loop's handler must not print a traceback
    broker = EmbeddedBroker()
    try:
        with caplog.at_level("WARNING"):
            broker._loop.call_exception_handler({"message": "Unhandled exception in client_connected_cb",
                                                 "exception": RuntimeError("dictionary changed size during iteration")})
    finally:
        broker.stop()
        broker._loop.close()
    (record,) = [r for r in caplog.records if r.name == "simulators.embedded_broker"]
    assert record.getMessage() == "embedded broker: RuntimeError: dictionary changed size during iteration"
    assert record.exc_info is None and "Traceback" not in caplog.text
