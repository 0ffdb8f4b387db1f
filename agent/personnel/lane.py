"""One personnel lane (card or badge reader + turnstile): a pure state machine driven by the
table in agent/personnel/table.py, in the manner of agent/gate/lane.py.

Theory of operation. `PersonLane.handle(event)` notes a turnstile snapshot first (the passage
counter's new bodies since the last snapshot, the fire alarm, the tailgate sensor), looks up
(state, event kind) in the table, runs the rule, then offers `Advance` so pass-through states
(DECIDED) move on at once. It returns the actions; the runner does them. The table is handed
in (`PersonLane(settings, TABLE, clock)`), so this file never imports agent/personnel/table.py
and the table's rules may name the lane without an import circle.

Invariants (property-tested in tests/personnel/test_lane_properties.py):
- no unlock without an allowing decision: `Unlock` is emitted only by `decided`, only for the
  current pass, only when its decision (platform answer or offline allow-list) allows;
- one unlock = at most one counted passage: a pass records `passages` 0 or 1; every further
  body through on the same unlock is a tailgater (an alarm and a count on the record);
- every pass is recorded exactly once (one `Record` per pass_id);
- the lane never sees a clear ID number (events carry `Identity`: key, mask, dates).

Never: perform I/O, sleep, or read time other than through the injected clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from agent.clock import Clock
from agent.config.personnel import PersonnelSection
from agent.contract.envelope import new_id
from agent.contract.personnel import (
    AlarmKind,
    PassOutcome,
    PersonAlarm,
    PersonDecision,
    PersonPassage,
    PersonVerifyRequest,
)
from agent.lane_table import settle
from agent.personnel import events as ev
from agent.personnel.events import State

MAX_ADVANCE = 4
COUNTER_MOD = 65536


@dataclass
class Pass:
    """The presentation being handled."""

    pass_id: str
    started_at: datetime
    started_mono: float
    identity: ev.Identity | None = None
    request: PersonVerifyRequest | None = None
    decision: PersonDecision | None = None
    offline: bool = False
    unlocked: bool = False
    passages: int = 0
    tailgaters: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)


class Rule(Protocol):
    """What the lane needs of a table row (agent.lane_table.Rule)."""

    @property
    def fn(self) -> Callable[[PersonLane, ev.Event], State]: ...

    @property
    def targets(self) -> tuple[State, ...]: ...


#: (state, event kind) -> the rule; a pair missing is an event ignored in that state
Table = Mapping[tuple[State, type], Rule]


class PersonLane:
    def __init__(self, settings: PersonnelSection, table: Table, clock: Clock,
                 new_id: Callable[[], str] = new_id):
        self.settings = settings
        self.table = table
        self.clock = clock
        self.new_id = new_id
        self.state = State.IDLE
        self.pass_: Pass | None = None
        self.deadline: float | None = None
        self.counter: int | None = None  # the turnstile's last passage count (None: unknown)
        self.bodies = 0  # bodies through since the previous snapshot (set before rules run)
        self.fire = False
        self.fire_edge: bool | None = None  # True/False on the snapshot where the alarm changed
        self.tailgate_edge = False
        self.free_passages = 0
        self.lost = False
        self.counters: Counter[str] = Counter()
        self._tailgate = False
        self._entered = clock.monotonic()
        self._armed = False
        self._out: list[ev.Action] = []

    # -- the one entry point -----------------------------------------------------------------
    def handle(self, event: ev.Event) -> list[ev.Action]:
        self._out = []
        self._note(event)
        settle(self, self._rule, event, self._apply, max_advance=MAX_ADVANCE, what="personnel table")
        return self._out

    def _rule(self, state: State, kind: type) -> Rule | None:
        return self.table.get((state, kind))

    def _apply(self, rule: Rule, event: ev.Event) -> None:
        self._armed = False
        target = rule.fn(self, event)
        if target not in rule.targets:
            raise RuntimeError(f"rule {rule.fn.__name__} went {self.state} -> {target}, table allows {rule.targets}")
        if target is not self.state:
            if self.pass_ is not None:
                key = self.state.value.lower()
                spent = (self.now - self._entered) * 1000.0
                self.pass_.timings_ms[key] = round(self.pass_.timings_ms.get(key, 0.0) + spent, 3)
            self.state = target
            self._entered = self.now
            if not self._armed:
                self.deadline = None

    def _note(self, event: ev.Event) -> None:
        self.bodies, self.fire_edge, self.tailgate_edge = 0, None, False
        if not isinstance(event, ev.Turnstile):
            return
        if event.stale:
            if not self.lost and self.counter is not None:  # a loss, not a turnstile not seen yet
                self.alarm("turnstile_lost", count=0, detail="turnstile controller not answering")
            self.lost = True
            self.counter = None  # bodies while it was away cannot be told from the counter
            return
        self.lost = False
        if self.counter is not None:
            self.bodies = (event.passages - self.counter) % COUNTER_MOD
        self.counter = event.passages
        if event.fire_alarm != self.fire:
            self.fire, self.fire_edge = event.fire_alarm, event.fire_alarm
        self.tailgate_edge = event.tailgate and not self._tailgate
        self._tailgate = event.tailgate

    # -- helpers for rules ---------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.clock.monotonic()

    def emit(self, action: ev.Action) -> None:
        self._out.append(action)

    def show(self, text: str) -> None:
        self.emit(ev.Show(text))

    def arm(self, seconds: float) -> None:
        self.deadline = self.now + seconds
        self._armed = True

    def due(self) -> bool:
        return self.deadline is not None and self.now >= self.deadline

    def alarm(self, what: AlarmKind, count: int = 1, detail: str = "") -> None:
        self.counters[f"alarm.{what}"] += 1
        pass_id = self.pass_.pass_id if self.pass_ else None
        self.emit(ev.Alarm(PersonAlarm(lane=self.settings.lane, area=self.settings.area, what=what,
                                       pass_id=pass_id, count=count, detail=detail[:500])))

    def start(self, identity: ev.Identity | None) -> Pass:
        self.pass_ = Pass(self.new_id(), self.clock.now(), self.now, identity)
        self._entered = self.now
        self.counters["passes"] += 1
        return self.pass_

    def finish(self, outcome: PassOutcome, reason: str = "") -> State:
        """Record the pass (once) and forget it."""
        p = self.pass_
        assert p is not None
        key = self.state.value.lower()
        if self.state is not State.IDLE:
            p.timings_ms[key] = round(p.timings_ms.get(key, 0.0) + (self.now - self._entered) * 1000.0, 3)
        record = self.draft(outcome, reason)
        self.emit(ev.Record(record, p.identity.photo if p.identity else None))
        self.counters[f"outcome.{outcome}"] += 1
        self.pass_ = None
        return State.IDLE

    def draft(self, outcome: PassOutcome = "aborted", reason: str = "") -> PersonPassage:
        """The current pass as its record would read now (the journal keeps this form)."""
        p = self.pass_
        assert p is not None
        who = p.identity
        return PersonPassage(
            pass_id=p.pass_id, lane=self.settings.lane, area=self.settings.area,
            credential=who.credential if who else None, person_key=who.person_key if who else None,
            masked=who.masked if who else None, name=who.name if who else None, outcome=outcome,
            reason=reason[:500], decision=p.decision, offline=p.offline, passages=p.passages,
            tailgaters=p.tailgaters, timings_ms=dict(p.timings_ms), started_at=p.started_at,
            ended_at=self.clock.now(),
        )

    def verify_request(self) -> PersonVerifyRequest:
        p = self.pass_
        assert p is not None and p.identity is not None
        who = p.identity
        until = None
        if who.credential == "id_card":
            until = "long_term" if who.long_term else (who.valid_until.isoformat() if who.valid_until else None)
        return PersonVerifyRequest(
            pass_id=p.pass_id, lane=self.settings.lane, area=self.settings.area, credential=who.credential,
            person_key=who.person_key, masked=who.masked, name=who.name if self.settings.send_name else None,
            card_valid_until=until,
        )
