"""The lane as the console shows it: one JSON-ready picture built from what the node already
keeps (the lane's draft transaction, the guard's inputs, the coils last written, the link's
health, the devices), plus what the console remembers (last weight, last transactions, staff
outcomes, audit entries). Read-only: building a picture never changes the node.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict
from typing import Any

from agent.contract.devices import CameraRead, Weight
from agent.contract.gate import GateTransaction, StaffAction
from agent.identifiers.container import check_container
from agent.metrics import health as node_health

INPUTS = ("approach", "safety", "exit", "photocell_broken", "estop", "open_limit", "closed_limit")


class Memory:
    """What the console keeps between pictures, bounded."""

    def __init__(self) -> None:
        self.weight: Weight | None = None
        self.reads: deque[CameraRead] = deque(maxlen=12)
        self.transactions: deque[dict[str, Any]] = deque(maxlen=10)
        self.actions: deque[dict[str, Any]] = deque(maxlen=10)
        self.audit: deque[dict[str, Any]] = deque(maxlen=15)

    def observe(self, type_: str, body: Any) -> bool:
        """A record went by; True when the picture changed."""
        if isinstance(body, Weight):
            self.weight = body
        elif isinstance(body, CameraRead):
            self.reads.append(body)
        elif isinstance(body, GateTransaction):
            d = body.decision
            self.transactions.appendleft({
                "id": body.transaction_id, "outcome": body.outcome, "plate": body.plate.text if body.plate else "",
                "containers": [c.number for c in body.containers], "ended_at": body.ended_at.isoformat(),
                "decision": f"{'allow' if d.allow else 'deny'} ({d.by})" if d else "",
                "reason": (d.reason if d else "") or body.trouble_reason or ""})
        elif isinstance(body, StaffAction):
            self.actions.appendleft(body.model_dump(mode="json"))
        return type_ not in ("heartbeat",)


def read_view(read: CameraRead) -> dict[str, Any]:
    view = {"device": read.device, "target": read.target, "text": read.text, "confidence": read.confidence,
            "position": read.position, "image": read.image_ref or ""}
    if read.target == "container":
        checked = check_container(read.text)
        view["check"] = "ok" if checked.ok else checked.reason
    return view


def picture(node: Any, memory: Memory, audit: Any) -> dict[str, Any]:
    station = node.station
    lane, runner, guard = station.lane, station.runner, station.guard
    tx = lane.tx
    inputs = guard.inputs
    health = node.link.health()
    devices = [{"name": d.name, "kind": d.kind, "state": d.state, "detail": getattr(d, "detail", "")} for d in node.drivers]
    reasons = node_health(node)["reasons"]  # the same reasons /healthz and `portedge status` give
    if audit is not None:
        reasons += audit.degraded()
    if guard.estop:
        reasons.append("e-stop pressed")
    if guard.controller_lost:
        reasons.append("gate controller not answering")
    weight = memory.weight
    out: dict[str, Any] = {
        "lane": station.settings.lane, "node": node.config.node.id, "state": lane.state.value, "mode": lane.mode,
        "display": runner.display_text,
        "inputs": {k: bool(getattr(inputs, k)) for k in INPUTS} if inputs is not None else None,
        "outputs": asdict(runner.written) if runner.written is not None else None,
        "want_open": guard.want_open,
        "weight": {"value": weight.value, "unit": weight.unit, "stable": weight.stable,
                   "out_of_range": weight.out_of_range} if weight else None,
        "reads": [read_view(r) for r in reversed(memory.reads)],
        "tx": None,
        "health": {"connected": health.connected,
                   "outbox": {name: d.rows for name, d in health.outbox.items()},
                   "devices": devices, "degraded": reasons},
        "audit": {"seq": audit.head[0], "hash": audit.head[1]} if audit is not None else None,
        "audit_recent": list(memory.audit),
        "transactions": list(memory.transactions),
        "actions": list(memory.actions),
    }
    if tx is not None:
        d = tx.decision
        out["tx"] = {
            "id": tx.transaction_id, "started_at": tx.started_at.isoformat(),
            "plate": tx.plate_number or "", "plate_read": read_view(tx.plate) if tx.plate else None,
            "containers": [{"position": c.position, "number": c.number, "valid": c.valid, "confidence": c.confidence,
                            "check": "ok" if check_container(c.number).ok else "bad"} for c in tx.containers.values()],
            "reads": [read_view(r) for r in tx.reads[-8:]],
            "weight_kg": None if tx.weight is None else tx.weight.value,
            "decision": {"allow": d.allow, "by": d.by, "reason": d.reason, "ticket": d.ticket,
                         "yard_position": d.yard_position} if d else None,
            "trouble": tx.trouble_reason or "", "offline": tx.offline,
        }
    return out
