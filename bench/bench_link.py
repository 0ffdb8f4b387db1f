"""Benchmark: the durable link against raw paho, on one mosquitto it starts itself.

    .venv/bin/python bench/bench_link.py [--events 20000] [--backlog 100000] [--producers 64] [--inflight N]
                                         [--batch on|off] [--burst N]

Reports, in one run on one broker:
- raw paho QoS 1 publish rate of 200-byte payloads, 100 in flight (the baseline);
- the agent's put -> outbox (synchronous=FULL) -> PUBACK -> delete rate, as a ratio to raw,
  and the process's CPU per event in that phase (`--burst N`: producers put N at a time, put_many);
- put-to-PUBACK latency p50/p99, under that load and paced (one put every 5 ms);
- the drain rate of a backlog built while the broker was down, as a ratio to raw;
- the agent's idle CPU and RSS after the drain.
Figures only; nothing here is asserted (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt  # noqa: E402

from agent.config.model import NodeConfig  # noqa: E402
from agent.link import Link  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from simulators.mosquitto import Mosquitto  # noqa: E402

PAYLOAD = b"x" * 200
BODY = {"device": "scanner-1", "data": "y" * 120}  # the envelope around it makes ~200 bytes


def raw_paho_rate(port: int, n: int, window: int = 100) -> float:
    done = threading.Semaphore(0)
    slots = threading.Semaphore(window)

    def on_publish(client, userdata, mid, rc, props):
        slots.release()
        done.release()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(window)
    c.on_publish = on_publish
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        t = time.perf_counter()
        for _ in range(n):
            slots.acquire()
            c.publish("bench/raw", PAYLOAD, qos=1)
        for _ in range(n):
            done.acquire()
        return n / (time.perf_counter() - t)
    finally:
        c.disconnect()
        c.loop_stop()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


class Timing:
    """put start -> PUBACK per seq, by wrapping the outbox's link-facing methods."""

    def __init__(self, outbox: Outbox):
        self.started: dict[int, float] = {}
        self.latency: list[float] = []
        self._seq_of: dict[int, int] = {}
        inner_batch, inner_ack = outbox.next_batch, outbox.ack

        def next_batch(limit):
            rows = inner_batch(limit)
            for r in rows:
                self._seq_of[r.rid] = r.seq
            return rows

        def ack(rids):
            now = time.perf_counter()
            for rid in rids:
                seq = self._seq_of.pop(rid, None)
                if seq in self.started:
                    self.latency.append(now - self.started.pop(seq))
            inner_ack(rids)

        outbox.next_batch, outbox.ack = next_batch, ack


async def drained(outbox: Outbox) -> None:
    while outbox.stats().depth:
        await asyncio.sleep(0.005)


async def agent_run(broker: Mosquitto, db: Path, args) -> dict[str, float]:
    broker_config = {"url": broker.url, "reconnect_base_s": 0.05, "reconnect_cap_s": 0.2}
    if args.inflight:
        broker_config["inflight"] = args.inflight
    config = NodeConfig.model_validate({
        "node": {"id": "lane-1", "site": "yt", "role": "gate", "heartbeat_s": 3600},
        "broker": broker_config,
        "link": {"batch": {c: {"enabled": args.batch == "on"} for c in ("control", "transactional", "telemetry")}},
    })
    outbox = Outbox(db, "lane-1", synchronous="FULL")
    out: dict[str, float] = {"window": config.broker.inflight}
    timing = Timing(outbox)
    link = Link(config, outbox, rng=random.Random(1))
    await link.start()
    while not link.connected:
        await asyncio.sleep(0.01)

    async def produce(n: int, producers: int, record: bool) -> None:
        numbers = iter(range(n))

        async def one() -> None:
            for _ in numbers:
                started = time.perf_counter()
                env = await outbox.aput("scan", BODY, "transactional")
                if record:
                    timing.started[env.seq] = started

        async def bursts() -> None:
            while burst := [("scan", BODY) for _ in zip(range(args.burst), numbers, strict=False)]:
                started = time.perf_counter()
                for env in await outbox.aput_many(burst, "transactional"):
                    if record:
                        timing.started[env.seq] = started

        await asyncio.gather(*((bursts() if args.burst > 1 else one()) for _ in range(producers)))

    # throughput: put -> commit -> publish -> PUBACK -> delete, until the outbox is empty
    t, cpu0 = time.perf_counter(), sum(os.times()[:2])
    await produce(args.events, args.producers, True)
    await drained(outbox)
    out["agent_rate"] = args.events / (time.perf_counter() - t)
    out["cpu_us_per_event"] = (sum(os.times()[:2]) - cpu0) / args.events * 1e6
    out["lat_load_p50"], out["lat_load_p99"] = pct(timing.latency, 0.5), pct(timing.latency, 0.99)

    timing.latency.clear()
    for _ in range(500):
        started = time.perf_counter()
        env = await outbox.aput("scan", BODY, "transactional")
        timing.started[env.seq] = started
        await asyncio.sleep(0.005)
    await drained(outbox)
    out["lat_paced_p50"], out["lat_paced_p99"] = pct(timing.latency, 0.5), pct(timing.latency, 0.99)

    # backlog: broker down, put, broker up, time the drain
    await asyncio.to_thread(broker.stop)
    while link.connected:
        await asyncio.sleep(0.01)
    await produce(args.backlog, args.producers, False)
    assert outbox.stats().depth >= args.backlog
    await asyncio.to_thread(broker.start)
    t = time.perf_counter()
    await drained(outbox)
    out["drain_rate"] = args.backlog / (time.perf_counter() - t)

    # idle: nothing to send, connected, heartbeat far away
    await asyncio.sleep(1.0)
    cpu0, t0 = sum(os.times()[:2]), time.perf_counter()
    await asyncio.sleep(args.idle_s)
    out["idle_cpu_pct"] = 100 * (sum(os.times()[:2]) - cpu0) / (time.perf_counter() - t0)
    out["rss_mb"] = _rss_mb()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await link.stop()
    outbox.close()
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--producers", type=int, default=64)
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument("--inflight", type=int, default=0,
                        help="the agent's in-flight window (default: the config's, broker.inflight)")
    parser.add_argument("--batch", choices=("on", "off"), default="on",
                        help="records of one topic waiting together share an MQTT message ([link.batch])")
    parser.add_argument("--burst", type=int, default=1,
                        help="records each producer puts at a time in the throughput phase (>1: Outbox.aput_many)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portedge-bench-") as tmp, Mosquitto(persistence=False) as broker:
        raw = raw_paho_rate(broker.port, args.events)
        agent = asyncio.run(agent_run(broker, Path(tmp) / "bench.db", args))
        raw_after = raw_paho_rate(broker.port, args.events)
    base = (raw + raw_after) / 2
    print(f"raw paho QoS1, 200 B, 100 in flight: {raw:,.0f} msg/s (again after the agent: {raw_after:,.0f})")
    print(f"agent put->outbox(FULL)->PUBACK->delete: {agent['agent_rate']:,.0f} msg/s  ratio {agent['agent_rate'] / base:.2f}"
          f"  ({args.producers} concurrent producers, window {agent['window']}, batching {args.batch}"
          f"{f', bursts of {args.burst}' if args.burst > 1 else ''}); CPU {agent['cpu_us_per_event']:.0f} us per event")
    print(f"put->PUBACK latency under that load: p50 {agent['lat_load_p50']:.1f} ms, p99 {agent['lat_load_p99']:.1f} ms")
    print(f"put->PUBACK latency paced (1 put / 5 ms): p50 {agent['lat_paced_p50']:.2f} ms, p99 {agent['lat_paced_p99']:.2f} ms")
    print(f"drain of a {args.backlog:,}-event backlog: {agent['drain_rate']:,.0f} msg/s  ratio {agent['drain_rate'] / base:.2f}")
    print(f"idle: CPU {agent['idle_cpu_pct']:.2f} %, RSS {agent['rss_mb']:.0f} MB (peak {agent['peak_rss_mb']:.0f} MB, bench process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
