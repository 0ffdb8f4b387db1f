"""The broker-side counter: subscribes to everything on a loopback broker and marks each event
number it sees (tally.Marks). Prints `ready` once subscribed; stops on SIGTERM or SIGINT.

    python bench/peers/receiver.py --port P --marks FILE --events N --base B
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import paho.mqtt.client as mqtt
from tally import Marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--marks", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--base", type=int, required=True)
    args = parser.parse_args()
    marks = Marks(args.marks, args.events)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    subscribed = threading.Event()

    def on_message(client, userdata, message):
        marks.mark_numbers(message.payload, args.base)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-receiver-{args.base}",
                         protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", args.port)
    client.subscribe("#", qos=1)
    client.loop_start()
    try:
        if not subscribed.wait(10):
            print("error: no SUBACK from the broker within 10 s", file=sys.stderr)
            return 1
        print("ready", flush=True)
        stop.wait()
    finally:
        client.disconnect()
        client.loop_stop()
        marks.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
