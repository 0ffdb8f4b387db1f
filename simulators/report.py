"""What a simulated run proved: the delivery audit, the safety audit, and the figures.

`summarise(sim)` reads the platform's ledger (the oracle), the barrier models' movement logs
and the drivers' counters; `write_report(summary, folder, ledger)` writes summary.json and
PNG charts (throughput over time, latency distribution) for people to look at.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _ms(values: list[float]) -> dict[str, float | int | None]:
    def r(v):
        return None if v is None else round(v * 1000, 1)
    return {"n": len(values), "p50_ms": r(percentile(values, 50)), "p99_ms": r(percentile(values, 99)),
            "max_ms": r(max(values) if values else None)}


def unsafe_movements(movements: list) -> list:
    """Barrier movements that started down while the lane under it was not clear."""
    return [m for m in movements if m.what == "closing" and (m.safety or m.photocell_broken)]


def summarise(sim) -> dict[str, Any]:
    ledger = sim.platform.ledger
    turnstiles = getattr(sim, "turnstiles", {})
    nodes = sorted(set(sim.lanes) | set(sim.pdas) | set(turnstiles))
    delivery = {}
    for node in nodes:
        audit = ledger.audit(node)
        delivery[node] = {"records": audit.records, "duplicates_dropped": audit.duplicates,
                          "first_seq": audit.first_seq, "last_seq": audit.last_seq, "seq_gaps": audit.gaps[:20],
                          "gap_count": len(audit.gaps)}
    lanes = {}
    for lane, rig in sim.lanes.items():
        txs = ledger.bodies("gate_transaction", lane)
        ids = Counter(t["transaction_id"] for t in txs)
        outcomes = Counter(t["outcome"] for t in txs)
        lanes[lane] = {
            "trucks": rig.counts.trucks, "passed_at_barrier": rig.counts.passed, "turned_back": rig.counts.turned_back,
            "transactions": len(txs), "outcomes": dict(outcomes),
            "decided_offline": sum(1 for t in txs if (t.get("decision") or {}).get("by") == "offline"),
            "transaction_ids_repeated": sorted(i for i, n in ids.items() if n > 1),
            "reconciled": ledger.count("gate_reconcile", lane),
            "barrier_movements": len(rig.audit()), "unsafe_movements": len(unsafe_movements(rig.audit())),
            "interlock_violations": len(rig.violations()), "agent_kills": rig.counts.kills,
        }
    pdas = {}
    for pda in sim.pdas:
        updates = ledger.bodies("task_update", pda)
        by_task: dict[str, list[int]] = defaultdict(list)
        for u in updates:
            by_task[u["task_id"]].append(u.get("step") or 0)
        out_of_order = sorted(t for t, steps in by_task.items() if steps != sorted(steps))
        final = Counter(u["state"] for u in updates)
        pdas[pda] = {"task_updates": len(updates), "tasks": len(by_task), "states_reported": dict(final),
                     "updates_out_of_order": out_of_order, "driver": dict(sim.drivers[pda].counts)}
    people = {}
    for node, lane in turnstiles.items():
        passes = ledger.bodies("person_passage", node)
        people[node] = {"people": dict(lane.counts), "outcomes": dict(Counter(p["outcome"] for p in passes)),
                        "decided_offline": sum(1 for p in passes if p.get("offline")),
                        "alarms": dict(Counter(a["what"] for a in ledger.bodies("person_alarm", node))),
                        "reconciled": ledger.count("person_reconcile", node),
                        "counted_passages_over_one": sum(1 for p in passes if p["passages"] > 1)}
    platform = sim.platform.stats
    latency = {"all_records": _ms(ledger.latencies()), "gate_transaction": _ms(ledger.latencies("gate_transaction")),
               "task_update": _ms(ledger.latencies("task_update")), "gate_verify": _ms(ledger.latencies("gate_verify"))}
    problems = []
    for node, d in delivery.items():
        if d["gap_count"]:
            problems.append(f"{node}: {d['gap_count']} seq gap(s), first {d['seq_gaps'][:5]}")
    for lane, d in lanes.items():
        if d["unsafe_movements"] or d["interlock_violations"]:
            problems.append(f"{lane}: barrier moved down on an occupied lane")
        if d["transaction_ids_repeated"]:
            problems.append(f"{lane}: transaction ids recorded twice: {d['transaction_ids_repeated'][:3]}")
    for pda, d in pdas.items():
        if d["updates_out_of_order"]:
            problems.append(f"{pda}: task updates out of order for {d['updates_out_of_order'][:3]}")
    for node, d in people.items():
        if d["counted_passages_over_one"]:
            problems.append(f"{node}: a pass counted more than one passage")
    if sum(platform.invalid.values()):
        problems.append(f"platform received invalid messages: {dict(platform.invalid)}")
    records = ledger.count()
    seconds = max(1e-9, sim.state.elapsed)
    return {
        "scenario": sim.scenario.name, "seed": sim.scenario.seed, "duration_s": sim.scenario.duration_s,
        "broker": "embedded amqtt (MQTT 3.1.1)" if sim.mqtt_version == "3.1.1" else f"mosquitto at {sim.broker_url}",
        "ok": not problems, "problems": problems, "notes": sim.notes,
        "records_received": records, "records_per_s": round(records / seconds, 1),
        "duplicates_dropped": ledger.duplicates(), "delivery": delivery, "lanes": lanes, "pdas": pdas,
        "turnstiles": people,
        "orders": {"sent": sim.state.orders, "cancelled": sim.state.cancels, "reassigned": sim.state.reassigns},
        "faults": sim.state.faults_done, "latency": latency,
        "platform": {"answered": dict(platform.answered), "ignored_while_silent": platform.ignored_while_silent,
                     "invalid": dict(platform.invalid)},
    }


def write_report(summary: dict[str, Any], folder: Path, ledger) -> list[Path]:
    """summary.json plus throughput.png and latency.png; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "summary.json"]
    written[0].write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    arrivals = ledger.arrivals()
    if arrivals:
        t0 = arrivals[0][0]
        per_type: dict[str, Counter] = defaultdict(Counter)
        for at, type_ in arrivals:
            per_type[type_][int(at - t0)] += 1
        fig, ax = plt.subplots(figsize=(9, 4))
        span = range(int(arrivals[-1][0] - t0) + 1)
        for type_ in sorted(per_type, key=lambda k: -sum(per_type[k].values()))[:6]:
            ax.plot(list(span), [per_type[type_][s] for s in span], label=type_)
        for fault in summary["faults"]:
            ax.axvline(float(fault.split("s", 1)[0]), color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("seconds")
        ax.set_ylabel("records received per second")
        ax.set_title(f"Throughput at the platform — scenario {summary['scenario']} (dotted: faults)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "throughput.png", dpi=100)
        plt.close(fig)
        written.append(folder / "throughput.png")
    lat = [v * 1000 for v in ledger.latencies() if v is not None and v >= 0]
    if lat:
        fig, ax = plt.subplots(figsize=(9, 4))
        ax.hist(lat, bins=60, log=True)
        ax.set_xlabel("node timestamp -> platform receipt (ms), outbox waits during faults included")
        ax.set_ylabel("records (log)")
        ax.set_title(f"Latency: p50 {statistics.median(lat):.1f} ms, p99 {percentile(lat, 99):.1f} ms")
        fig.tight_layout()
        fig.savefig(folder / "latency.png", dpi=100)
        plt.close(fig)
        written.append(folder / "latency.png")
    return written
