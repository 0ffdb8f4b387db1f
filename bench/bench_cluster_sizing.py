"""Benchmark: what a fleet costs a broker - mosquitto vs a 3-node RabbitMQ cluster (quorum
queues), the same fleet simulator traffic, scaled to 1,000 nodes.

    .venv/bin/python bench/bench_cluster_sizing.py [--lanes 100] [--pdas 100] [--duration 60]

One run: the fleet simulator (simulators/fleet, one worker process, MQTT 3.1.1 on both so
the comparison is one protocol) against a mosquitto it starts (the baseline), then against a
fresh 3-node cluster with every node connected to node 1 (the worst case for one node). The
broker memory figure is the growth of the broker processes' RSS from before the fleet to its
end (all three Erlang VMs for the cluster), per node; connections and messages/s are what the
fleet made. Figures only; the per-1,000 column is a linear scale of what was measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.fleet.runner import FleetConfig, run_fleet  # noqa: E402
from simulators.mosquitto import Mosquitto  # noqa: E402
from simulators.rabbitmq import RabbitCluster, find_rabbitmq  # noqa: E402


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def fleet(url: str, args, pids: list[int]) -> dict:
    before = rss_kb(pids)
    report = run_fleet(FleetConfig(lanes=args.lanes, pdas=args.pdas, duration_s=args.duration, broker_url=url,
                                   processes=1, mqtt_version="3.1.1", live=False, site="sizing"))
    after = rss_kb(pids)
    nodes = args.lanes + args.pdas
    return {"connected": report["connected_at_end"], "per_s": report["messages"]["per_s"],
            "broker_kb_per_node": (after - before) / nodes, "broker_rss_mb": after / 1024,
            "p99_ms": report["latency_ms"]["node_to_platform"].get("p99")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=100)
    parser.add_argument("--pdas", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    if find_rabbitmq() is None:
        print("skipped: rabbitmq-server is not installed (./dev bench installs it as root; or apt-get install "
              "rabbitmq-server)", file=sys.stderr)
        return 0
    nodes = args.lanes + args.pdas
    with tempfile.TemporaryDirectory(prefix="portedge-sizing-") as tmp:
        (Path(tmp) / "mosq").mkdir()
        with Mosquitto(persistence=True, extra=["set_tcp_nodelay true"], workdir=Path(tmp) / "mosq") as broker:
            mosq = fleet(broker.url, args, [broker.proc.pid])
        began = time.monotonic()
        with RabbitCluster(size=3, workdir=Path(tmp) / "cluster") as cluster:
            boot = time.monotonic() - began
            pids = [n.proc.pid for n in cluster.nodes]
            idle_mb = rss_kb(pids) / 1024
            rabbit = fleet(cluster.nodes[0].url, args, pids)
    scale = 1000 / nodes
    print(f"{nodes} nodes, {args.duration:.0f} s, MQTT 3.1.1; cluster boot {boot:.0f} s, "
          f"idle cluster RSS {idle_mb:.0f} MB")
    print(f"| per 1,000 nodes (measured with {nodes}) | mosquitto | RabbitMQ, 3 nodes, quorum queues |")
    print("|---|---|---|")
    print(f"| connections held at end | {mosq['connected'] * scale:.0f} | {rabbit['connected'] * scale:.0f} |")
    print(f"| messages/s to the platform | {mosq['per_s'] * scale:.0f} | {rabbit['per_s'] * scale:.0f} |")
    print(f"| broker memory growth, MB | {mosq['broker_kb_per_node'] * 1000 / 1024:.0f} | "
          f"{rabbit['broker_kb_per_node'] * 1000 / 1024:.0f} |")
    print(f"| broker RSS at end (as measured), MB | {mosq['broker_rss_mb']:.0f} | {rabbit['broker_rss_mb']:.0f} |")
    print(f"| node to platform p99, ms | {mosq['p99_ms']} | {rabbit['p99_ms']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
