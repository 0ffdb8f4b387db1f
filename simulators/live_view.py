"""The demo's live terminal view (rich): trucks through each lane, tasks by state, outbox
depths and link state, the faults in play. Built only from what the platform received and
the simulator's own counters, so it shows what the port's control room would see."""

from __future__ import annotations

from collections import Counter

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _link(sim, node: str) -> Text:
    state = sim.platform.node_states.get(node, {})
    status = state.get("body", state).get("status", "?")
    style = {"online": "bold green", "offline": "yellow", "lost": "bold red"}.get(status, "dim")
    return Text(status, style=style)


def _outbox(sim, node: str) -> str:
    if node in sim.pdas:
        return str(sim.pdas[node].outbox.stats().depth)
    turnstile = getattr(sim, "turnstiles", {}).get(node)
    if turnstile is not None:
        return str(turnstile.node.outbox.stats().depth) if turnstile.node else "-"
    beat = sim.platform.ledger.latest("heartbeat", node)
    if not beat:
        return "?"
    return str(sum(c.get("rows", 0) for c in beat["health"].get("outbox", {}).values()))


def render(sim) -> Group:
    ledger, st = sim.platform.ledger, sim.state
    head = Text.assemble(
        ("Port Edge demo ", "bold"), (f"scenario {sim.scenario.name}  ", "cyan"),
        (f"{st.phase} {st.elapsed:5.1f}s / {sim.scenario.duration_s:.0f}s  ", ""),
        ("platform SILENT  " if sim.platform.silent else "platform answering  ", "bold red" if sim.platform.silent else "green"),
        (f"records {ledger.count()}  duplicates dropped {ledger.duplicates()}", "dim"),
    )
    lanes = Table(title="Gate lanes", expand=True)
    for col in ("lane", "link", "outbox", "trucks", "queued", "passed", "denied/trouble", "offline allow", "reconciled"):
        lanes.add_column(col, justify="right" if col not in ("lane", "link") else "left")
    for lane, rig in sim.lanes.items():
        txs = ledger.bodies("gate_transaction", lane)
        outcomes = Counter(t["outcome"] for t in txs)
        offline = sum(1 for t in txs if (t.get("decision") or {}).get("by") == "offline")
        lanes.add_row(lane, _link(sim, lane), _outbox(sim, lane), str(rig.counts.trucks), str(st.trucks_queued[lane]),
                      str(outcomes["passed"]), str(outcomes["denied"] + outcomes["trouble"]), str(offline),
                      str(ledger.count("gate_reconcile", lane)))
    pdas = Table(title="Forklift PDAs", expand=True)
    for col in ("pda", "link", "outbox", "driver", "assigned", "in progress", "completed", "cancelled", "wrong scans caught"):
        pdas.add_column(col, justify="right" if col not in ("pda", "link", "driver") else "left")
    for pda, node in sim.pdas.items():
        states = Counter(v.state for v in node.board.tasks())
        done = sum(1 for u in ledger.bodies("task_update", pda) if u["state"] == "COMPLETED")
        gone = sum(1 for u in ledger.bodies("task_update", pda) if u["state"] in ("CANCELLED", "REASSIGNED"))
        driver = node.board.driver
        counts = sim.drivers[pda].counts
        pdas.add_row(pda, _link(sim, pda), _outbox(sim, pda), driver.name if driver else "-", str(states["ASSIGNED"]),
                     str(sum(states[s] for s in ("ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED"))), str(done), str(gone),
                     str(counts["wrong_scan_refused"]))
    people = Table(title="Restricted-area turnstiles", expand=True)
    for col in ("turnstile", "link", "outbox", "people", "passed", "refused", "read again", "offline", "alarms"):
        people.add_column(col, justify="right" if col not in ("turnstile", "link", "alarms") else "left")
    for node, lane in getattr(sim, "turnstiles", {}).items():
        passes = Counter(p["outcome"] for p in ledger.bodies("person_passage", node))
        alarms = Counter(a["what"] for a in ledger.bodies("person_alarm", node))
        offline = sum(1 for p in ledger.bodies("person_passage", node) if p.get("offline"))
        people.add_row(node, _link(sim, node), _outbox(sim, node), str(sum(lane.counts.values())), str(passes["passed"]),
                       str(passes["denied"] + passes["invalid_card"]), str(passes["read_failed"]), str(offline),
                       ", ".join(f"{k} {v}" for k, v in sorted(alarms.items())) or "-")
    faults = Text("faults now: " + (", ".join(sorted(st.faults_active)) or "none"), style="bold red" if st.faults_active else "dim")
    done = Text("faults so far: " + (", ".join(st.faults_done) or "none"), style="dim")
    tables = [lanes, pdas] + ([people] if getattr(sim, "turnstiles", None) else [])
    return Group(Panel(head), *tables, faults, done)
