"""Fleet benchmark: 1,000 simulated nodes for 60 s on this machine, with one broker restart.

    .venv/bin/python bench/bench_fleet.py [--nodes 1000] [--duration 60] [--processes 2] [--no-write]

First a 20-node baseline (same traffic per node, no restart) measured in the same run, then the
fleet. A count "holds" when every node is connected at the end, all came back after the
restart, every command was answered and no seq number is missing at the platform. If the
asked count does not hold, smaller counts are tried and the largest that holds is reported.
The figures, the load average and the command go to the "## Fleet" section of
docs/benchmarks.md (only that section is rewritten; the file is re-read just before writing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from simulators.fleet import FleetConfig, run_fleet  # noqa: E402
from simulators.fleet.display import report_table  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"


def holds(report: dict) -> bool:
    r = report
    return (r["connected_at_end"] == r["nodes"]["total"] and r["reconnect"]["storm_s"] is not None
            and r["commands"]["unanswered"] == 0 and r["seq"]["missing"] == 0)


def fleet(nodes: int, duration: float, processes: int, restart: bool, console: Console) -> dict:
    config = FleetConfig(lanes=nodes // 2, pdas=nodes - nodes // 2, duration_s=duration, processes=processes,
                         restart_at_s=duration / 2 if restart else None, restart_down_s=1.0,
                         report_dir=ROOT / "reports" / "bench-fleet" / f"fleet-{nodes}", live=console.is_terminal)
    return run_fleet(config, console=console)


def _ms(figs: dict) -> str:
    return "-" if figs["p50"] is None else f"{figs['p50']:.1f} / {figs['p99']:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.1f}x"


def section(report: dict, base: dict, command: str, asked: int, tried: list[tuple[int, bool]]) -> str:
    r, lat, blat = report, report["latency_ms"], base["latency_ms"]
    steady = report["latency_ms_outside_restart"] or lat
    n = r["nodes"]["total"]
    storm = r["reconnect"]["storm_s"]
    lines = [
        "## Fleet",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {r['cpus']} cores, shared with other work "
        f"(load average {r['load']['start'][0]:.2f} at start, {r['load']['end'][0]:.2f} at end).",
        "",
        f"    {command}",
        "",
        f"{n} nodes ({r['nodes']['lanes']} lanes + {r['nodes']['pdas']} PDAs) in {r['processes']} worker processes, "
        f"each process one epoll loop (no thread per node), against a mosquitto started by the run "
        f"(`set_tcp_nodelay true`), {r['duration_s']:.0f} s, broker restarted at {r['reconnect']['restart_at_s']:.0f} s "
        f"(down {r['reconnect']['broker_down_s']:.0f} s). Traffic per node: a truck every ~{r['traffic']['gate_every_s']:.0f} s per lane "
        f"(lane events + gate transaction), a task step every ~{r['traffic']['task_every_s']:.0f} s per PDA, "
        f"a heartbeat every {r['traffic']['heartbeat_every_s']:.0f} s; the platform sends "
        f"{r['traffic']['commands_per_s']:.0f} commands/s. All QoS 1, MQTT 5 persistent sessions. "
        f"Baseline: {base['nodes']['total']} nodes, same traffic per node, no restart, same run.",
        "",
        f"Asked for {asked}: " + ", ".join(f"{c} {'holds' if ok else 'does not hold'}" for c, ok in tried) + ".",
        "",
        "| figure | fleet | baseline | fleet / baseline |",
        "|---|---|---|---|",
        f"| nodes connected at end | {r['connected_at_end']} / {n} | {base['connected_at_end']} / "
        f"{base['nodes']['total']} | |",
        f"| messages/s received by the platform | {r['messages']['per_s']:.0f} | {base['messages']['per_s']:.1f} | "
        f"{_ratio(r['messages']['per_s'], base['messages']['per_s'])} |",
        f"| node → platform latency p50 / p99 ms | {_ms(lat['node_to_platform'])} | {_ms(blat['node_to_platform'])} | "
        f"p99 {_ratio(lat['node_to_platform']['p99'], blat['node_to_platform']['p99'])} |",
        f"| platform → node (command → response) p50 / p99 ms | {_ms(lat['platform_to_node'])} | "
        f"{_ms(blat['platform_to_node'])} | p99 {_ratio(lat['platform_to_node']['p99'], blat['platform_to_node']['p99'])} |",
        f"| node → platform p50 / p99 ms, outside the restart | {_ms(steady['node_to_platform'])} | "
        f"{_ms(blat['node_to_platform'])} | p99 {_ratio(steady['node_to_platform']['p99'], blat['node_to_platform']['p99'])} |",
        f"| platform → node p50 / p99 ms, outside the restart | {_ms(steady['platform_to_node'])} | "
        f"{_ms(blat['platform_to_node'])} | p99 {_ratio(steady['platform_to_node']['p99'], blat['platform_to_node']['p99'])} |",
        f"| node → broker (publish → PUBACK) p50 / p99 ms | {_ms(lat['node_to_broker_puback'])} | "
        f"{_ms(blat['node_to_broker_puback'])} | |",
        f"| RSS per node, process total / marginal kB | {r['per_node']['rss_kb']:.1f} / "
        f"{r['per_node']['rss_marginal_kb']:.1f} | {base['per_node']['rss_kb']:.1f} / "
        f"{base['per_node']['rss_marginal_kb']:.1f} | |",
        f"| CPU per node, ms per second | {r['per_node']['cpu_ms_per_s']:.3f} | "
        f"{base['per_node']['cpu_ms_per_s']:.3f} | {_ratio(r['per_node']['cpu_ms_per_s'], base['per_node']['cpu_ms_per_s'])} |",
        f"| whole fleet CPU, % of one core | {r['per_node']['fleet_cpu_percent_of_one_core']:.1f} | "
        f"{base['per_node']['fleet_cpu_percent_of_one_core']:.1f} | |",
        f"| mosquitto RSS, kB per node | {r['broker']['rss_kb_per_node'] or 0:.2f} | "
        f"{base['broker']['rss_kb_per_node'] or 0:.2f} | |",
        f"| reconnect storm (broker up → all {n} back) | {'not all back' if storm is None else f'{storm:.2f} s'} | | |",
        f"| commands sent / answered / unanswered | {r['commands']['sent']} / {r['commands']['answered']} / "
        f"{r['commands']['unanswered']} | {base['commands']['sent']} / {base['commands']['answered']} / "
        f"{base['commands']['unanswered']} | |",
        f"| seq numbers missing / duplicates at the platform | {r['seq']['missing']} / {r['seq']['duplicates']} | "
        f"{base['seq']['missing']} / {base['seq']['duplicates']} | |",
        "",
        "Notes: the first two latency rows include the restart (events and commands in flight while the "
        "broker was down are delivered after it, and count); the \"outside the restart\" rows leave out samples "
        "sent or received from broker down until all nodes are back plus 1 s. \"Marginal\" RSS leaves out the worker process's own imports "
        "(~20 MB of Python, paho, pydantic). Fleet nodes have no SQLite outbox (a thousand writers would "
        "measure SQLite, not the link; durability is proven by the agent's outbox tests): records a node "
        "generates while disconnected are counted as skipped, not queued. Reconnects use full-jitter "
        "backoff (base 0.5 s, cap 10 s), so the storm time is mostly the jitter spread, by design. "
        "Without `set_tcp_nodelay true` mosquitto's Nagle adds ~40 ms to every command → response (measured "
        "with 20 nodes: p50 43 ms vs 0.7 ms).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    current = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Fleet\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: text + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    DOC.write_text(updated)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args()
    console = Console()
    command = shlex.join([".venv/bin/python", "bench/bench_fleet.py", *sys.argv[1:]])
    console.print(f"load average {os.getloadavg()}; baseline: 20 nodes, 20 s")
    base = fleet(20, 20.0, 1, restart=False, console=console)
    console.print(report_table(base))
    tried: list[tuple[int, bool]] = []
    best = None
    for count in [args.nodes, *[c for c in (700, 500, 300) if c < args.nodes]]:
        time.sleep(2)
        report = fleet(count, args.duration, args.processes, restart=True, console=console)
        console.print(report_table(report))
        ok = holds(report)
        tried.append((count, ok))
        if best is None or ok:
            best = report
        if ok:
            break
    out = section(best, base, command, args.nodes, tried)
    console.print(out)
    (ROOT / "reports" / "bench-fleet").mkdir(parents=True, exist_ok=True)
    (ROOT / "reports" / "bench-fleet" / "fleet-bench.json").write_text(json.dumps({"fleet": best, "baseline": base}, indent=2))
    if not args.no_write:
        write_section(out)
    return 0 if tried and tried[-1][1] else 1


if __name__ == "__main__":
    sys.exit(main())
