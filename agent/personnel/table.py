"""The personnel lane's transition table: (state, event kind) -> rule, with the states each
rule may lead to. docs/personnel.md's diagram is rendered from it (agent/personnel/diagram.py).

Invariants of the table (the lane checks the targets at run time):
- `Unlock` is emitted by `decided` alone, with an allowing decision of the current pass;
- a pass counts at most one body (`passages` 0 or 1); later bodies on the same unlock are
  tailgaters: `tailgating` alarm + count on the record. The passage counter is the authority;
  the tailgate sensor adds one only when the counter saw no tailgater for the pass;
- every rule that ends a pass goes through `lane.finish` (one record per pass);
- a (state, event) pair not in the table is ignored and counted: a second card while one is
  being handled waits for the next presentation;
- the fire alarm frees the arm whatever the state: the open pass is recorded, FREE until the
  alarm clears (bodies through meanwhile are counted on the clearing alarm).

Never: I/O, sleeping, or reading time other than through `lane.now` / `lane.clock`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from agent.contract.personnel import PersonDecision
from agent.lane_table import Rule
from agent.personnel import events as ev
from agent.personnel.events import State
from agent.personnel.identity import CHINA, card_problem

if TYPE_CHECKING:
    from agent.personnel.lane import PersonLane

S = State


def _today(lane: PersonLane) -> date:
    return lane.clock.now().astimezone(CHINA).date()  # the card's dates are Beijing calendar days


# -- presentation ----------------------------------------------------------------------------

def presented(lane: PersonLane, event: ev.Event) -> State:
    assert isinstance(event, ev.Presented)
    p = lane.start(event.identity)
    problem = card_problem(event.identity, _today(lane))
    if problem:
        lane.show(f"NO ENTRY: {problem}")
        p.decision = PersonDecision(allow=False, by="edge", reason=problem)
        return lane.finish("invalid_card", problem)
    p.request = lane.verify_request()
    lane.emit(ev.SendVerify(p.request, lane.settings.verify_s))
    lane.show(f"CHECKING {event.identity.masked}")
    lane.arm(lane.settings.verify_s)
    return S.VERIFYING


def read_failed(lane: PersonLane, event: ev.Event) -> State:
    assert isinstance(event, ev.ReadFailed)
    lane.start(None)
    lane.show("PLEASE PRESENT THE CARD AGAIN")
    return lane.finish("read_failed", event.reason)


def _mine(lane: PersonLane, pass_id: str) -> bool:
    if lane.pass_ is None or lane.pass_.pass_id != pass_id:
        lane.counters["stale_answer"] += 1
        return False
    return True


# -- deciding --------------------------------------------------------------------------------

def verdict(lane: PersonLane, event: ev.Event) -> State:
    assert isinstance(event, ev.Verdict) and lane.pass_ is not None
    a = event.answer
    if not _mine(lane, a.pass_id):
        return lane.state
    lane.pass_.decision = PersonDecision(allow=a.allow, by="platform", reason=a.reason)
    lane.pass_.offline = False
    return S.DECIDED


def consult(lane: PersonLane, event: ev.Event) -> State:
    p = lane.pass_
    assert p is not None and p.identity is not None
    if isinstance(event, ev.PlatformTimeout) and not _mine(lane, event.pass_id):
        return S.VERIFYING
    if isinstance(event, ev.Tick) and not lane.due():
        return S.VERIFYING
    lane.emit(ev.ConsultList(p.pass_id, p.identity.person_key))
    lane.show("CHECKING (OFFLINE)")
    lane.arm(lane.settings.verify_s)
    return S.CONSULTING


def listed(lane: PersonLane, event: ev.Event) -> State:
    assert isinstance(event, ev.ListLookup) and lane.pass_ is not None
    if not _mine(lane, event.pass_id):
        return S.CONSULTING
    p = lane.pass_
    p.decision, p.offline = event.decision, True
    assert p.request is not None
    lane.emit(ev.AwaitReconcile(p.request, event.decision))
    return S.DECIDED


def consult_tick(lane: PersonLane, event: ev.Event) -> State:
    if not lane.due():
        return S.CONSULTING
    assert lane.pass_ is not None
    lane.pass_.decision = PersonDecision(allow=False, by="edge", reason="no decision: platform and allow-list silent")
    lane.show("NO ENTRY: SEE STAFF")
    return lane.finish("denied", "no decision in time")


def decided(lane: PersonLane, event: ev.Event) -> State:
    p = lane.pass_
    assert p is not None and p.decision is not None
    if not p.decision.allow:
        lane.show(f"NO ENTRY: {p.decision.reason or 'denied'}")
        return lane.finish("denied", p.decision.reason)
    p.unlocked = True
    lane.emit(ev.Unlock(p.pass_id, lane.now + lane.settings.decision_ttl_s))
    lane.show("PLEASE PASS")
    lane.arm(lane.settings.pass_s)
    return S.UNLOCKED


# -- passing ---------------------------------------------------------------------------------

def _fire(lane: PersonLane) -> State:
    """The fire alarm came on: record what is open, free the arm."""
    if lane.pass_ is not None:
        p = lane.pass_
        if lane.state in (S.UNLOCKED, S.PASSED) and lane.bodies and not p.passages:
            p.passages, p.tailgaters = 1, p.tailgaters + lane.bodies - 1
        lane.finish("passed" if p.passages else "timed_out", "fire alarm: arm freed")
    lane.free_passages = 0
    lane.alarm("fire_alarm", count=0, detail="fire alarm input active: the turnstile is free")
    lane.show("EMERGENCY: TURNSTILE FREE")
    return S.FREE


def _tailgaters(lane: PersonLane, n: int) -> None:
    if n > 0:
        assert lane.pass_ is not None
        lane.pass_.tailgaters += n
        lane.alarm("tailgating", count=n, detail=f"{n} more on one unlock")


def locked_turnstile(lane: PersonLane, event: ev.Event) -> State:
    """IDLE / VERIFYING / CONSULTING: the arm is locked, so a body through now is forced."""
    if lane.fire_edge:
        return _fire(lane)
    if lane.bodies:
        detail = "passage without an unlock" if lane.state is S.IDLE else "passage before the decision"
        lane.alarm("forced", count=lane.bodies, detail=detail)
    return lane.state


def unlocked_turnstile(lane: PersonLane, event: ev.Event) -> State:
    if lane.fire_edge:
        return _fire(lane)
    p = lane.pass_
    assert p is not None
    if not lane.bodies:
        return S.UNLOCKED
    p.passages = 1  # one unlock, one counted passage
    _tailgaters(lane, lane.bodies - 1)
    lane.show("")
    lane.arm(lane.settings.tailgate_watch_s)
    return S.PASSED


def passed_turnstile(lane: PersonLane, event: ev.Event) -> State:
    if lane.fire_edge:
        return _fire(lane)
    _tailgaters(lane, lane.bodies)
    # the sensor confirms what the counter says; it adds a tailgater only when the counter
    # saw none (a body squeezed through without turning the arm) - never on top of a count
    if not lane.bodies and lane.tailgate_edge and lane.pass_ is not None and not lane.pass_.tailgaters:
        _tailgaters(lane, 1)
    return S.PASSED


def passed_tick(lane: PersonLane, event: ev.Event) -> State:
    if not lane.due():
        return S.PASSED
    return lane.finish("passed")


def passed_presented(lane: PersonLane, event: ev.Event) -> State:
    lane.finish("passed")
    return presented(lane, event)


def unlocked_tick(lane: PersonLane, event: ev.Event) -> State:
    if not lane.due():
        return S.UNLOCKED
    assert lane.pass_ is not None
    lane.emit(ev.Relock(lane.pass_.pass_id))
    lane.show("")
    return lane.finish("timed_out", "unlocked, nobody passed")


def unlock_failed(lane: PersonLane, event: ev.Event) -> State:
    assert isinstance(event, ev.UnlockFailed)
    if not _mine(lane, event.pass_id):
        return lane.state
    lane.show("NO ENTRY: SEE STAFF")
    return lane.finish("unlock_failed", event.reason)


def free_turnstile(lane: PersonLane, event: ev.Event) -> State:
    lane.free_passages += lane.bodies
    if lane.fire_edge is False:
        lane.alarm("fire_alarm_cleared", count=lane.free_passages, detail="bodies through while free")
        lane.show("")
        return S.IDLE
    return S.FREE


# -- the table ---------------------------------------------------------------------------------

_FIRE = (S.FREE, "fire alarm")

TABLE: dict[tuple[State, type], Rule] = {
    (S.IDLE, ev.Presented): Rule(presented, (S.IDLE, S.VERIFYING), labels=(
        (S.VERIFYING, "card/badge valid: person_verify"), (S.IDLE, "invalid number / expired card"))),
    (S.IDLE, ev.ReadFailed): Rule(read_failed, (S.IDLE,), "read failed"),
    (S.IDLE, ev.Turnstile): Rule(locked_turnstile, (S.IDLE, S.FREE), labels=(_FIRE,)),

    (S.VERIFYING, ev.Verdict): Rule(verdict, (S.VERIFYING, S.DECIDED), "platform answer"),
    (S.VERIFYING, ev.PlatformTimeout): Rule(consult, (S.VERIFYING, S.CONSULTING), "platform silent: allow-list"),
    (S.VERIFYING, ev.Tick): Rule(consult, (S.VERIFYING, S.CONSULTING), "platform silent: allow-list"),
    (S.VERIFYING, ev.Turnstile): Rule(locked_turnstile, (S.VERIFYING, S.FREE), labels=(_FIRE,)),

    (S.CONSULTING, ev.ListLookup): Rule(listed, (S.CONSULTING, S.DECIDED), "offline decision"),
    (S.CONSULTING, ev.Verdict): Rule(verdict, (S.CONSULTING, S.DECIDED), "late platform answer"),
    (S.CONSULTING, ev.Tick): Rule(consult_tick, (S.CONSULTING, S.IDLE), "no decision in time"),
    (S.CONSULTING, ev.Turnstile): Rule(locked_turnstile, (S.CONSULTING, S.FREE), labels=(_FIRE,)),

    (S.DECIDED, ev.Advance): Rule(decided, (S.UNLOCKED, S.IDLE), labels=(
        (S.UNLOCKED, "allow: unlock for one passage"), (S.IDLE, "deny / blacklisted"))),

    (S.UNLOCKED, ev.Turnstile): Rule(unlocked_turnstile, (S.UNLOCKED, S.PASSED, S.FREE), labels=(
        (S.PASSED, "passage counted"), _FIRE)),
    (S.UNLOCKED, ev.Tick): Rule(unlocked_tick, (S.UNLOCKED, S.IDLE), "nobody passed: relock"),
    (S.UNLOCKED, ev.UnlockFailed): Rule(unlock_failed, (S.UNLOCKED, S.IDLE), "unlock refused / expired"),

    (S.PASSED, ev.Turnstile): Rule(passed_turnstile, (S.PASSED, S.FREE), labels=(_FIRE,)),
    (S.PASSED, ev.Tick): Rule(passed_tick, (S.PASSED, S.IDLE), "record passage"),
    (S.PASSED, ev.Presented): Rule(passed_presented, (S.IDLE, S.VERIFYING), "next person"),

    (S.FREE, ev.Turnstile): Rule(free_turnstile, (S.FREE, S.IDLE), "fire alarm cleared"),
}
