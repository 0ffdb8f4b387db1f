"""What a simulated node says, in the real contract's models: lane transactions with their lane
events, PDA task progress, heartbeats. Pure builders over a seeded `random.Random`; no I/O.

The bodies are plausible, not a gate workflow: the fleet measures the link and the broker at
scale, so it needs realistic sizes and mixes, not decisions. This module must never publish.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from agent.contract.devices import CameraRead, Weight
from agent.contract.gate import ContainerRead, Decision, GateTransaction, LaneEvent
from agent.contract.node import ClassDepth, DeviceStatus, Health, Heartbeat
from agent.contract.tasks import ScanEvidence, TaskUpdate

_OWNERS = ("CSQU", "MSCU", "MAEU", "COSU", "OOLU", "HLXU")
_PLATE_HEADS = ("沪A", "沪B", "苏E", "浙B", "鲁B")
_TX_TYPES = ("DI", "RE", "DM", "RM", "DC", "RC")
#: the happy path of a forklift task, as the PDA reports it
TASK_STEPS = ("ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED", "COMPLETED")
LANE_DEVICES = ("cam-plate", "cam-box", "scale-1", "io-1")
PDA_DEVICES = ("scanner-1",)


def _container_number(rng: random.Random) -> str:
    # not check-digit valid on purpose: the fleet does not exercise identifiers
    return f"{rng.choice(_OWNERS)}{rng.randrange(10**6):06d}{rng.randrange(10)}"


def plate(rng: random.Random) -> str:
    return f"{rng.choice(_PLATE_HEADS)}{rng.randrange(10**4):04d}"


def lane_event(lane: str, what: str, value: str, transaction_id: str | None = None) -> LaneEvent:
    return LaneEvent(lane=lane, what=what, value=value, transaction_id=transaction_id)


def gate_transaction(rng: random.Random, lane: str, transaction_id: str, started: datetime) -> GateTransaction:
    now = datetime.now(UTC)
    plate_read = CameraRead(device="cam-plate", target="plate", text=plate(rng),
                            confidence=round(rng.uniform(0.8, 1.0), 3), position="front")
    boxes = [ContainerRead(number=_container_number(rng), position=pos, confidence=round(rng.uniform(0.7, 1.0), 3),
                           valid=True) for pos in ("front", "rear")[: rng.choice((1, 1, 2))]]
    allow = rng.random() > 0.05
    return GateTransaction(
        transaction_id=transaction_id, lane=lane, type=rng.choice(_TX_TYPES),
        outcome="passed" if allow else "denied", plate=plate_read, containers=boxes, reads=[plate_read],
        weight=Weight(device="scale-1", value=round(rng.uniform(8000, 36000), -1), unit="kg", mode="gross", stable=True),
        decision=Decision(allow=allow, by="platform", reason="" if allow else "no pre-advice",
                          yard_position=f"C-{rng.randrange(1, 20):02d}-{rng.randrange(1, 40):02d}"),
        timings_ms={"identify": round(rng.uniform(800, 3000), 1), "verify": round(rng.uniform(20, 200), 1)},
        started_at=started, ended_at=max(now, started),
    )


def task_update(rng: random.Random, task_id: str, step: int, driver: str) -> TaskUpdate:
    """Step 1..len(TASK_STEPS) of one task on one PDA."""
    state = TASK_STEPS[step - 1]
    previous = "ASSIGNED" if step == 1 else TASK_STEPS[step - 2]
    scans = []
    if state in ("AT_SOURCE", "PICKED", "DELIVERED"):
        scans = [ScanEvidence(data=f"A-{rng.randrange(1, 9):02d}-{rng.randrange(1, 30):02d}-{rng.randrange(1, 5)}",
                              at=datetime.now(UTC), accepted=True)]
    return TaskUpdate(task_id=task_id, state=state, previous=previous, step=step, driver=driver, scans=scans,
                      picked=rng.randrange(1, 4) if state in ("PICKED", "DELIVERED", "COMPLETED") else 0)


def heartbeat(uptime_s: float, connected: bool) -> Heartbeat:
    health = Health(connected=connected, outbox={"transactional": ClassDepth(rows=0, bytes=0)})
    return Heartbeat(uptime_s=max(0.0, uptime_s), health=health)


def device_status(device: str) -> DeviceStatus:
    return DeviceStatus(device=device, kind=device.split("-")[0], status="online", counters={"frames": 0})


def task_id_for(node: str, number: int, day: datetime | None = None) -> str:
    day = day or datetime.now(UTC)
    return f"T-{day:%Y%m%d}-{node}-{number:04d}"


def expiry(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
