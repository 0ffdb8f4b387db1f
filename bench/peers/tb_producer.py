"""The peer: ThingsBoard IoT Gateway's SQLite event storage and MQTT client, driven like its
gateway service drives them. Runs in the peer's own venv (bench/peers/.venv), never the project's.

    bench/peers/.venv/bin/python bench/peers/tb_producer.py --port P --data DIR --events N --devices D --base B
        [--rate R] [--accepted FILE] [--drain]

What runs is theirs: `SQLiteEventStorage` (put -> in-memory queue -> a writer thread that
commits batches; `get_event_pack` / `event_pack_processing_done` deletes a pack's rows) and
`TBGatewayMqttClient.gw_send_telemetry` (QoS 1, splits a device's pack by payload size). The
loop around them is written here after the gateway service's storage reader (3.8.5): take a
pack, group its events by device, one `gw_send_telemetry` per device, wait on every publish
info, and only when all report success mark the pack done; otherwise the same pack is sent
again. Connectors, converters and the rest of the service are left out: events go straight
into `put` as the JSON the service stores (`ConvertedData.to_dict`).

Each event carries its own millisecond timestamp: ThingsBoard's client merges the values of
one device's telemetry items that share a timestamp, which would fold distinct events into one.

Prints one JSON line: events forwarded, seconds from the first put to the last pack done, CPU.
`--drain` puts nothing and forwards what the storage kept (after a kill -9).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from tally import Marks, event_body
from tb_device_mqtt import TBPublishInfo
from tb_gateway_mqtt import TBGatewayMqttClient
from thingsboard_gateway.storage.sqlite.sqlite_event_storage import SQLiteEventStorage

T0_MS = 1_796_000_000_000  # event timestamps: T0 + event number, one per event
MIN_PACK_SEND_DELAY_S = 0.05  # the service's minPackSendDelayMS default
MAX_PAYLOAD_BYTES = 8196  # the client's default (the service's maxPayloadSizeBytes default too)
STUCK_S = 20.0  # a drain that forwards nothing for this long ends, reporting what is left


class _StorageLog(logging.LoggerAdapter):
    """The storage logs at the gateway's own TRACE level too."""

    def trace(self, *args, **kwargs) -> None:
        pass


class Forwarder(threading.Thread):
    """storage pack -> one gw_send_telemetry per device -> all confirmed -> pack done."""

    def __init__(self, storage: SQLiteEventStorage, client: TBGatewayMqttClient):
        super().__init__(name="bench-forwarder", daemon=True)
        self.storage, self.client = storage, client
        self.stop = threading.Event()
        self.forwarded = 0  # events in packs marked done
        self.messages = 0  # MQTT messages those packs went out as
        self.idle = threading.Event()  # set when a read found the storage empty

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.client.is_connected():
                self.stop.wait(1)
                continue
            events = self.storage.get_event_pack()
            if not events:
                self.idle.set()
                self.stop.wait(MIN_PACK_SEND_DELAY_S)
                continue
            self.idle.clear()
            by_device: dict[str, list] = {}
            for stored in events:
                event = json.loads(stored)
                by_device.setdefault(event["deviceName"], []).extend(event["telemetry"])
            infos = [self.client.gw_send_telemetry(device, items, quality_of_service=1)
                     for device, items in by_device.items()]
            if all(info.get() == TBPublishInfo.TB_ERR_SUCCESS for info in infos):
                self.storage.event_pack_processing_done()
                self.forwarded += len(events)
                self.messages += sum(len(info.mid()) for info in infos)


def stored_json(n: int, devices: int) -> str:
    body = event_body(n, devices)
    return json.dumps({"deviceName": body["device"], "deviceType": "default",
                       "telemetry": [{"ts": T0_MS + n, "values": body}], "attributes": {}},
                      separators=(",", ":"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="the storage's folder (kept across a kill)")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--base", type=int, default=0, help="the first event's number")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s; 0 = flat out")
    parser.add_argument("--accepted", help="marks file: each event marked once put() returned True")
    parser.add_argument("--drain", action="store_true", help="put nothing; forward what is stored")
    parser.add_argument("--payload-bytes", type=int, default=MAX_PAYLOAD_BYTES,
                        help="the client's payload cap (what a platform's session limits would set)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    storage = SQLiteEventStorage({"data_file_path": os.path.join(args.data, "")},
                                 _StorageLog(logging.getLogger("storage"), {}), threading.Event())
    client = TBGatewayMqttClient("127.0.0.1", args.port, username="bench-gateway", quality_of_service=1,
                                 client_id=f"bench-tb-{os.getpid()}")
    client.max_payload_size = args.payload_bytes
    client.connect()
    deadline = time.monotonic() + 10
    while not client.is_connected():
        if time.monotonic() > deadline or stop.is_set():
            print("error: the ThingsBoard client did not connect within 10 s", file=sys.stderr)
            return 1
        time.sleep(0.01)
    forwarder = Forwarder(storage, client)
    forwarder.start()
    accepted = Marks(args.accepted, args.events) if args.accepted else None
    cpu0, t0 = sum(os.times()[:2]), time.perf_counter()
    put = 0
    try:
        if not args.drain:
            for i in range(args.events):
                if stop.is_set():
                    break
                if args.rate:
                    lag = t0 + i / args.rate - time.perf_counter()
                    if lag > 0:
                        time.sleep(lag)
                if storage.put(stored_json(args.base + i, args.devices)):
                    put += 1
                    if accepted is not None:
                        accepted.mark(i)
            while forwarder.forwarded < put and not stop.is_set():
                time.sleep(0.002)
        else:  # until the storage is empty, or nothing moved for STUCK_S (what is left is reported)
            moved = time.monotonic()
            last = -1
            while not stop.is_set() and not (forwarder.idle.wait(0.05) and storage.len() == 0):
                if forwarder.forwarded != last:
                    last, moved = forwarder.forwarded, time.monotonic()
                elif time.monotonic() - moved > STUCK_S:
                    break
        seconds = time.perf_counter() - t0
        cpu = sum(os.times()[:2]) - cpu0
        left = storage.len()
    finally:
        forwarder.stop.set()
        forwarder.join(5)
        storage.stop()
        client.stop()
        client.disconnect()
    done = forwarder.forwarded
    print(json.dumps({"events": done, "put": put, "seconds": seconds, "rate": done / seconds if seconds else 0.0,
                      "cpu_us_per_event": 1e6 * cpu / done if done else None, "messages": forwarder.messages, "left": left}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
