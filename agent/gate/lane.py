"""One gate lane's transaction workflow: a pure state machine driven by the table in
agent/gate/table.py, which is handed in (`Lane(settings, TABLE, clock)`): this file never
imports the table, whose rules name the lane, so the two form no import circle.

Theory of operation. `Lane.handle(event)` looks up (state, event kind) in the table (a row
for the state, else the table's row for any state), runs the
rule (which may change the draft transaction and asks for actions), then offers `Advance` so
pass-through states (IDENTIFIED, WEIGHED, DECIDED, CLOSED) move on at once. It returns the
actions, in order; the runner does them. Loop/photocell events update the lane's picture of
the lane *before* any rule runs, so no rule can act on a stale picture; so does the barrier
guard's `Interlock` (may the barrier move at all), which no rule reads as an event. A staff
or platform command the table refuses comes back as a `Refuse` action, nothing of it done.

Invariants (checked where they could break; property-tested in tests/gate):
- CloseBarrier is asked for only while the last known safety loop is clear, the photocell is
  intact and the exit loop is clear (and never before the hold-off after the exit clears);
- a transaction is finished exactly once: one RecordTransaction, then Journal(None);
- every state change of a transaction is journalled, so a restart can record it as aborted;
- no allow without a decision: OpenBarrier follows a platform answer, a valid offline permit
  or a staff release, nothing else; a deny or a missing permit goes to TROUBLE;
- approach-loop chatter shorter than `debounce_s` neither starts a second transaction nor
  cancels the current one.

Never: perform I/O, sleep, or read time other than through the injected clock.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agent.clock import Clock
from agent.config.model import GateSection
from agent.contract.devices import KG_PER_UNIT, CameraRead, Weight
from agent.contract.envelope import new_id
from agent.contract.gate import (
    ContainerRead,
    Decision,
    GateOutcome,
    GateTransaction,
    LaneEvent,
    LaneEventKind,
    LaneModeName,
    TransactionType,
    VerifyRequest,
)
from agent.contract.personnel import DriverRef
from agent.gate import events as ev
from agent.gate.events import State
from agent.lane_events import Advance
from agent.lane_table import settle

log = logging.getLogger(__name__)

#: more Advance steps than this in one handle() means a loop in the table
MAX_ADVANCE = 12
#: a stable reading under this is the empty deck (or someone standing on it), never a truck:
#: the weighbridge still shows it when the cameras identify a truck whose axles are not on yet
MIN_TRUCK_KG = 1000.0


@dataclass
class Draft:
    """The transaction being built. Journalled (as JSON) after every state change."""

    transaction_id: str
    started_at: datetime
    started_mono: float
    reads: list[CameraRead] = field(default_factory=list)
    plate: CameraRead | None = None
    plate_number: str | None = None
    containers: dict[str, ContainerRead] = field(default_factory=dict)
    weight: Weight | None = None
    decision: Decision | None = None
    type: TransactionType | None = None
    offline: bool = False
    offline_pending: bool = False
    trouble_kind: str | None = None
    trouble_reason: str | None = None
    passed: bool = False
    request: VerifyRequest | None = None
    driver: DriverRef | None = None  # the driver's card, when the lane checks drivers
    release_expires_at: float | None = None  # a remote staff release's own expiry (monotonic)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "started_at": self.started_at.isoformat(),
            "reads": [r.model_dump(mode="json") for r in self.reads],
            "plate": self.plate.model_dump(mode="json") if self.plate else None,
            "containers": [c.model_dump(mode="json") for c in self.containers.values()],
            "weight": self.weight.model_dump(mode="json") if self.weight else None,
            "decision": self.decision.model_dump(mode="json") if self.decision else None,
            "type": self.type,
            "offline": self.offline,
            "trouble_reason": self.trouble_reason,
            "driver": self.driver.model_dump(mode="json") if self.driver else None,
            "timings_ms": dict(self.timings_ms),
        }


class Rule(Protocol):
    """What the lane needs of a table row (agent.lane_table.Rule)."""

    @property
    def fn(self) -> Callable[[Lane, ev.Event], State]: ...

    @property
    def targets(self) -> tuple[State, ...]: ...


#: (state, event kind) -> the rule; state None is the row for every state without its own
#: (a pair in neither is an event ignored in that state)
Table = Mapping[tuple[State | None, type], Rule]


class Lane:
    def __init__(self, settings: GateSection, table: Table, clock: Clock, new_id: Callable[[], str] = new_id):
        from agent.identifiers.plate import DEFAULT_PATTERN, PlateChecker

        self.settings = settings
        self.table = table
        self.clock = clock
        self.new_id = new_id
        self.plates = PlateChecker(settings.plate_pattern or DEFAULT_PATTERN)
        self.state = State.IDLE
        self.mode: LaneModeName = "auto"
        # the lane's picture: fail-safe until the I/O module says otherwise
        self.approach = False
        self.safety = True
        self.photocell_broken = True
        self.exit = False
        self.interlock = False  # the guard's word: may the barrier move at all (ev.Interlock)
        self.tx: Draft | None = None
        self.deadline: float | None = None
        self.backout_at: float | None = None
        self.close_due: float | None = None
        self.entered_at = clock.monotonic()
        self.counters: Counter[str] = Counter()
        self._armed = False
        self._out: list[ev.Action] = []
        self._refused = False  # this event was a command the table refused

    # -- the one entry point --------------------------------------------------------------
    def handle(self, event: ev.Event) -> list[ev.Action]:
        self._out = []
        self._refused = False
        if isinstance(event, ev.Interlock):  # the guard's word, for the rules: no rule of its own
            self.interlock = event.safe
            return self._out
        self._note_inputs(event)
        settle(self, self._lookup, event, self._apply, max_advance=MAX_ADVANCE, what="lane table")
        return self._out

    def _lookup(self, state: State, kind: type) -> Rule | None:
        if self._refused and kind is Advance:  # a refused command changes nothing, not even a pass-through
            return None
        return self.table.get((state, kind)) or self.table.get((None, kind))

    def _apply(self, rule: Rule, event: ev.Event) -> None:
        self._armed = False
        target = rule.fn(self, event)
        if target not in rule.targets:
            raise RuntimeError(f"rule {rule.fn.__name__} went {self.state} -> {target}, table allows {rule.targets}")
        changed = target is not self.state
        self.go(target)
        if changed and not self._armed:  # a deadline belongs to the state that armed it
            self.deadline = None

    def _note_inputs(self, event: ev.Event) -> None:
        if isinstance(event, ev.Approach):
            self.approach = event.occupied
        elif isinstance(event, ev.Safety):
            self.safety = event.occupied
        elif isinstance(event, ev.Photocell):
            self.photocell_broken = event.broken
        elif isinstance(event, ev.ExitLoop):
            self.exit = event.occupied
        else:
            return
        self.emit_lane_event("loop" if not isinstance(event, ev.Photocell) else "safety",
                             f"{type(event).__name__.lower()}={'on' if _value(event) else 'off'}")

    # -- helpers for rules ----------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.clock.monotonic()

    def emit(self, action: ev.Action) -> None:
        self._out.append(action)

    def refuse(self, code: ev.RefusalCode, reason: str) -> State:
        """Refuse the command this event carries out: nothing done, the lane stays."""
        self.emit(ev.Refuse(code, reason))
        self._refused = True
        return self.state

    def emit_lane_event(self, what: LaneEventKind, value: str, detail: str = "") -> None:
        tid = self.tx.transaction_id if self.tx else None
        self.emit(ev.RecordLaneEvent(LaneEvent(lane=self.settings.lane, what=what, value=value,
                                               transaction_id=tid, detail=detail[:500])))

    def show(self, text: str) -> None:
        self.emit(ev.ShowDisplay(text))
        self.emit_lane_event("display", text[:200])

    def lane_clear_for_close(self) -> bool:
        """Safe to bring the barrier down: nothing under it, beam intact, exit loop empty."""
        return not self.safety and not self.photocell_broken and not self.exit

    def lane_empty(self) -> bool:
        return not self.approach and self.lane_clear_for_close()

    def arm(self, name: str, seconds: float) -> None:
        self.deadline = self.now + seconds
        self._armed = True
        self.emit(ev.StartTimer(name, self.deadline))

    def due(self) -> bool:
        return self.deadline is not None and self.now >= self.deadline

    def go(self, target: State) -> None:
        if target is self.state:
            return
        spent = (self.now - self.entered_at) * 1000.0
        if self.tx is not None and self.state is not State.IDLE:
            key = self.state.value.lower()
            self.tx.timings_ms[key] = round(self.tx.timings_ms.get(key, 0.0) + spent, 3)
        self.state, self.entered_at = target, self.now
        self.emit_lane_event("state", target.value, self._state_detail(target))
        if self.tx is not None and target is not State.IDLE:
            self.emit(ev.Journal(self.tx.transaction_id, self.tx.to_json() | {"state": target.value}))

    def _state_detail(self, target: State) -> str:
        """A state event's detail: the decision on DECIDED (the audit log keeps who decided and
        why), else the trouble reason."""
        if self.tx is None:
            return ""
        d = self.tx.decision
        if target is State.DECIDED and d is not None:
            return f"{'allow' if d.allow else 'deny'} by {d.by}: {d.reason}"
        return self.tx.trouble_reason or ""

    def start(self) -> None:
        self.tx = Draft(self.new_id(), self.clock.now(), self.now)
        self.backout_at = None
        self.close_due = None
        self.counters["transactions"] += 1

    def trouble(self, kind: str, reason: str) -> State:
        assert self.tx is not None
        self.tx.trouble_kind, self.tx.trouble_reason = kind, reason
        self.counters[f"trouble.{kind}"] += 1
        self.show(f"SEE STAFF: {reason}")
        self.arm("trouble", self.settings.trouble_nag_s)
        return State.TROUBLE

    def finish(self, outcome: GateOutcome, note: str | None = None) -> State:
        """Record the transaction (once) and forget it."""
        tx = self.tx
        assert tx is not None
        if self.state is not State.IDLE:  # count the last step too
            key = self.state.value.lower()
            tx.timings_ms[key] = round(tx.timings_ms.get(key, 0.0) + (self.now - self.entered_at) * 1000.0, 3)
        record = GateTransaction(
            transaction_id=tx.transaction_id, lane=self.settings.lane, type=tx.type, outcome=outcome,
            plate=tx.plate, containers=list(tx.containers.values()), reads=list(tx.reads), weight=tx.weight,
            decision=tx.decision, offline=tx.offline, driver=tx.driver, trouble_reason=note or tx.trouble_reason,
            timings_ms=dict(tx.timings_ms), started_at=tx.started_at, ended_at=self.clock.now(),
        )
        self.emit(ev.RecordTransaction(record))
        self.emit(ev.Journal(tx.transaction_id, None))
        self.counters[f"outcome.{outcome}"] += 1
        self.tx = None
        self.backout_at = None
        self.close_due = None
        return State.IDLE

    def is_truck_weight(self, weight: Weight) -> bool:
        return weight.stable and not weight.out_of_range and _kg(weight) >= MIN_TRUCK_KG

    def verify_request(self) -> VerifyRequest:
        tx = self.tx
        assert tx is not None
        return VerifyRequest(
            transaction_id=tx.transaction_id, lane=self.settings.lane, plate=tx.plate_number,
            containers=_unique(c.number for c in tx.containers.values()),
            weight_kg=_kg(tx.weight) if tx.weight else None, type=None, driver=tx.driver,
        )


def _value(event: Any) -> bool:
    return bool(getattr(event, "occupied", getattr(event, "broken", False)))


def _unique(items: Any) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _kg(weight: Weight) -> float:
    return round(weight.value * KG_PER_UNIT[weight.unit], 3)
