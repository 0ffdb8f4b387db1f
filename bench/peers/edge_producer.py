"""Port Edge's live durable pipeline, and raw paho as the baseline, as one producer process each:
the same events as the peer (tally.event_body), to a loopback broker.

    .venv/bin/python bench/peers/edge_producer.py edge --port P --data DIR --events N --devices D --base B
        [--rate R] [--accepted FILE] [--drain] [--burst N]
    .venv/bin/python bench/peers/edge_producer.py raw --port P --events N --devices D

`edge`: 64 concurrent `Outbox.aput` (committed before it returns) -> the node's `Link`
(QoS 1, row deleted on PUBACK), as bench/bench_link.py drives it, with the config's defaults;
with `--burst N` each producer puts N events at a time with `aput_many` (one transaction).
`raw`: one paho QoS 1 publish per event, 100 in flight, payloads made before the clock starts.
Prints one JSON line like tb_producer.py. `--drain` puts nothing and sends what the outbox kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import paho.mqtt.client as mqtt  # noqa: E402
from tally import Marks, event_body  # noqa: E402

from agent.config.model import NodeConfig  # noqa: E402
from agent.link import Link  # noqa: E402
from agent.outbox import Outbox  # noqa: E402

PRODUCERS = 64
STUCK_S = 20.0  # an outbox that sends nothing for this long ends the run, reporting what is left


def result(events: int, seconds: float, cpu: float, **extra) -> str:
    return json.dumps({"events": events, "seconds": seconds, "rate": events / seconds if seconds else 0.0,
                       "cpu_us_per_event": 1e6 * cpu / events if events else None, **extra})


def raw(args) -> str:
    payloads = [(f"bench/raw/{body['device']}", json.dumps(body, separators=(",", ":")).encode())
                for body in (event_body(args.base + i, args.devices) for i in range(args.events))]
    window = 100
    done, slots = threading.Semaphore(0), threading.Semaphore(window)

    def on_publish(client, userdata, mid, rc, props):
        slots.release()
        done.release()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{os.getpid()}", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(window)
    client.on_publish = on_publish
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    try:
        cpu0, t0 = sum(os.times()[:2]), time.perf_counter()
        for topic, payload in payloads:
            slots.acquire()
            client.publish(topic, payload, qos=1)
        for _ in payloads:
            done.acquire()
        seconds, cpu = time.perf_counter() - t0, sum(os.times()[:2]) - cpu0
    finally:
        client.disconnect()
        client.loop_stop()
    return result(args.events, seconds, cpu, messages=args.events)


async def edge(args) -> str:
    config = NodeConfig.model_validate({
        "node": {"id": "lane-1", "site": "yt", "role": "gate", "heartbeat_s": 3600},
        "broker": {"url": f"mqtt://127.0.0.1:{args.port}", "reconnect_base_s": 0.05, "reconnect_cap_s": 0.2},
    })
    outbox = Outbox(Path(args.data) / "outbox.db", "lane-1", synchronous="FULL")
    link = Link(config, outbox, rng=random.Random(1))
    accepted = Marks(args.accepted, args.events) if args.accepted else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await link.start()
    try:
        while not link.connected:
            await asyncio.sleep(0.01)
        cpu0, t0 = sum(os.times()[:2]), time.perf_counter()
        put = 0
        if not args.drain:
            bursts = iter(range(0, args.events, args.burst))

            async def one() -> None:
                nonlocal put
                for first in bursts:
                    if stop.is_set():
                        return
                    if args.rate:
                        lag = t0 + first / args.rate - time.perf_counter()
                        if lag > 0:
                            await asyncio.sleep(lag)
                    numbers = range(first, min(first + args.burst, args.events))
                    if args.burst == 1:
                        await outbox.aput("scan", event_body(args.base + first, args.devices), "transactional")
                    else:
                        await outbox.aput_many([("scan", event_body(args.base + i, args.devices)) for i in numbers],
                                               "transactional")
                    put += len(numbers)
                    if accepted is not None:
                        for i in numbers:
                            accepted.mark(i)

            await asyncio.gather(*(one() for _ in range(PRODUCERS)))
        else:
            put = outbox.stats().depth
        moved, last = time.monotonic(), -1
        while (depth := outbox.stats().depth) and not stop.is_set():
            if depth != last:
                last, moved = depth, time.monotonic()
            elif time.monotonic() - moved > STUCK_S:  # report what is left rather than hang
                break
            await asyncio.sleep(0.005)
        seconds, cpu = time.perf_counter() - t0, sum(os.times()[:2]) - cpu0
        left = outbox.stats().depth
    finally:
        await link.stop()
        outbox.close()
    return result(put - left, seconds, cpu, put=put, left=left)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["edge", "raw"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", help="the outbox's folder (kept across a kill); edge only")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--base", type=int, default=0, help="the first event's number")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s; 0 = flat out (edge)")
    parser.add_argument("--accepted", help="marks file: each event marked once aput returned (edge)")
    parser.add_argument("--drain", action="store_true", help="put nothing; send what the outbox kept (edge)")
    parser.add_argument("--burst", type=int, default=1,
                        help="events per put: 1 = aput each, N > 1 = aput_many of N (one commit wait) (edge)")
    args = parser.parse_args()
    if args.what == "raw":
        print(raw(args), flush=True)
        return 0
    if not args.data:
        parser.error("edge needs --data")
    print(asyncio.run(edge(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
