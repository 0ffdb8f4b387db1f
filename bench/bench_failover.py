"""Benchmark: failover time on a broker cluster - the broker node a lane is on is killed
(SIGKILL), how long until the lane publishes again through another node.

    .venv/bin/python bench/bench_failover.py [--kills 10] [--rate 200] [--hold 12]

Each kill gets a fresh 3-node RabbitMQ cluster on loopback (simulators/rabbitmq.py, quorum
queues; a node restarted from its old data takes minutes to rejoin): the lane (a real Link
and outbox, the failover list `urls = [A, B, C]`, the DEFAULT backoff) streams records at
--rate per second on node A for --hold seconds, the platform simulator listens on node C,
A is killed. The
failover time is from the kill to the platform's receipt of the first record the lane made
after the kill (so it includes noticing the loss, the backoff delay, the connect and session
resume on B, and the delivery). The baseline in the same run: the lane's put-to-receipt
latency before the kill (p50), i.e. what a record costs when nothing fails. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config.model import NodeConfig  # noqa: E402
from agent.link import Link  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from simulators.platform import PlatformSim  # noqa: E402
from simulators.rabbitmq import RabbitCluster, find_rabbitmq  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def one_kill(cluster: RabbitCluster, workdir: Path, rate: float, seed: int, hold_s: float) -> dict:
    a, b, c = cluster.nodes
    sim = await asyncio.to_thread(PlatformSim(c.url, "bench", mqtt_version="3.1.1").start, 30)
    config = NodeConfig.model_validate({
        "node": {"id": "lane-1", "site": "bench", "role": "gate", "heartbeat_s": 3600},
        "broker": {"urls": cluster.urls, "mqtt_version": "3.1.1"},  # default backoff and keepalive
        "storage": {"path": str(workdir / "lane.db")}})
    outbox = Outbox(config.storage.path, "lane-1")
    link = Link(config, outbox, rng=random.Random(seed))
    await link.start()
    stop = asyncio.Event()

    async def stream() -> None:
        i = 0
        while not stop.is_set():
            await outbox.aput("scan", {"device": "scanner-1", "data": f"{i:08d}"})
            i += 1
            await asyncio.sleep(1 / rate)

    producer = asyncio.create_task(stream())
    try:
        deadline = time.monotonic() + 60
        while not (link.connected and sim.ledger.count("scan") >= rate) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if link.broker != a.url:
            raise RuntimeError(f"the lane is on {link.broker}, not on node A")
        await asyncio.sleep(hold_s)  # a connection that held: the lane retries A first, then moves on
        before = statistics.median(sim.ledger.latencies("scan"))
        killed_wall = time.time()
        await asyncio.to_thread(cluster.kill, 1)
        after: list[float] = []
        deadline = time.monotonic() + 120
        while not after and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            after = [first - killed_wall for first, sent in sim.ledger.sent_and_first("scan")
                     if sent is not None and sent > killed_wall]
        if not after:
            raise RuntimeError("the lane never published again")
        return {"failover_s": min(after), "baseline_s": before, "to": link.broker, "connects": link.connects}
    finally:
        stop.set()
        await producer
        await link.stop()
        outbox.close()
        await asyncio.to_thread(sim.stop)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200.0, help="records per second from the lane")
    parser.add_argument("--hold", type=float, default=12.0, metavar="S",
                        help="seconds on node A before the kill (default 12: past reconnect_stable_s, as in a port)")
    args = parser.parse_args()
    if find_rabbitmq() is None:
        print("skipped: rabbitmq-server is not installed (./dev bench installs it as root; or apt-get install "
              "rabbitmq-server)", file=sys.stderr)
        return 0
    results, boots, boot_failures = [], [], []
    k = 0
    while len(results) < args.kills and len(boot_failures) < 3:
        with tempfile.TemporaryDirectory(prefix="portedge-failover-") as tmp:
            try:
                cluster = RabbitCluster(size=3, workdir=Path(tmp) / "cluster").start()
            except (RuntimeError, TimeoutError) as err:  # counted and said, never hidden
                boot_failures.append(str(err)[:200])
                print(f"cluster boot failed: {boot_failures[-1]}", flush=True)
                continue
            try:
                boots.append(cluster.boot_seconds)
                result = asyncio.run(one_kill(cluster, Path(tmp), args.rate, seed=k, hold_s=args.hold))
            finally:
                cluster.close()
        k += 1
        results.append(result)
        print(f"kill {k}: publishing again after {result['failover_s']:.2f} s via {result['to']} "
              f"(baseline put-to-receipt {result['baseline_s'] * 1000:.1f} ms; cluster boot {boots[-1]:.0f} s)",
              flush=True)
    times = [r["failover_s"] for r in results]
    base = statistics.median(r["baseline_s"] for r in results)
    print(f"failover over {len(times)} kills: p50 {percentile(times, 0.5):.2f} s, p99 {percentile(times, 0.99):.2f} s, "
          f"max {max(times):.2f} s; baseline put-to-receipt p50 {base * 1000:.1f} ms "
          f"(failover p50 = {percentile(times, 0.5) / base:.0f}x); cluster boot median {statistics.median(boots):.0f} s, "
          f"boot failures {len(boot_failures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
