"""The personnel lane, pure: each path of the table with a fake clock, and its invariants over
random event sequences (hypothesis): never unlock without an allowing decision; one unlock =
at most one counted passage; every pass recorded once."""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.clock import FakeClock
from agent.contract.personnel import PersonDecision, PersonVerifyAnswer
from agent.personnel import events as ev
from agent.personnel.events import State
from agent.personnel.lane import PersonLane
from agent.personnel.privacy import SiteKey
from agent.personnel.table import TABLE

from .kit import BAD_CHECK, DATED, EXPIRED, T0, VALID, who
from .kit import settings as make_settings

KEY = SiteKey(os.urandom(32))


def make(tmp_path, **kw) -> PersonLane:
    ids = iter(f"P{i}" for i in range(10_000))
    return PersonLane(make_settings(tmp_path, **kw), TABLE, FakeClock(T0), lambda: next(ids))


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def turn(lane: PersonLane, passages: int, **kw) -> list:
    return lane.handle(ev.Turnstile(locked=kw.pop("locked", True), tailgate=kw.pop("tailgate", False),
                                    fire_alarm=kw.pop("fire", False), passages=passages))


def test_valid_card_allowed_unlocks_once_and_records_one_passage(tmp_path):
    lane = make(tmp_path)
    turn(lane, 10)
    out = lane.handle(ev.Presented(who(VALID, KEY)))
    (send,) = of(out, ev.SendVerify)
    assert send.request.masked == "110105********002X" and send.request.card_valid_until == "long_term"
    assert send.request.name is None, "names travel only when the config asks"
    out = lane.handle(ev.Verdict(PersonVerifyAnswer(pass_id=send.request.pass_id, allow=True)))
    assert len(of(out, ev.Unlock)) == 1 and lane.state is State.UNLOCKED
    turn(lane, 11)
    assert lane.state is State.PASSED
    lane.clock.advance(5)
    (rec,) = of(lane.handle(ev.Tick()), ev.Record)
    assert rec.passage.outcome == "passed" and rec.passage.passages == 1 and rec.passage.tailgaters == 0


def test_expired_and_bad_number_never_ask_the_platform(tmp_path):
    lane = make(tmp_path)
    for fields, reason in ((EXPIRED, "card expired"), (BAD_CHECK, "ID number not valid")):
        out = lane.handle(ev.Presented(who(fields, KEY)))
        (rec,) = of(out, ev.Record)
        assert not of(out, ev.SendVerify) and rec.passage.outcome == "invalid_card"
        assert rec.passage.reason.startswith(reason) and lane.state is State.IDLE


def test_dated_card_inside_its_window_is_checked_with_the_platform(tmp_path):
    lane = make(tmp_path)
    (send,) = of(lane.handle(ev.Presented(who(DATED, KEY))), ev.SendVerify)
    assert send.request.card_valid_until == "2030-01-01"


def test_deny_and_blacklist_record_denied_without_unlock(tmp_path):
    lane = make(tmp_path)
    (send,) = of(lane.handle(ev.Presented(who(VALID, KEY))), ev.SendVerify)
    out = lane.handle(ev.Verdict(PersonVerifyAnswer(pass_id=send.request.pass_id, allow=False, reason="blacklisted")))
    (rec,) = of(out, ev.Record)
    assert not of(out, ev.Unlock) and rec.passage.outcome == "denied" and rec.passage.reason == "blacklisted"


def test_platform_silent_the_allow_list_decides_and_waits_for_reconcile(tmp_path):
    lane = make(tmp_path)
    (send,) = of(lane.handle(ev.Presented(who(VALID, KEY))), ev.SendVerify)
    lane.clock.advance(2.5)
    (consult,) = of(lane.handle(ev.Tick()), ev.ConsultList)
    allow = PersonDecision(allow=True, by="offline", reason="offline allow-list", list_version=3)
    out = lane.handle(ev.ListLookup(consult.pass_id, allow))
    assert of(out, ev.Unlock) and of(out, ev.AwaitReconcile)[0].request == send.request


def test_tailgating_raises_an_alarm_and_counts_one_passage(tmp_path):
    lane = make(tmp_path)
    turn(lane, 100)
    (send,) = of(lane.handle(ev.Presented(who(VALID, KEY))), ev.SendVerify)
    lane.handle(ev.Verdict(PersonVerifyAnswer(pass_id=send.request.pass_id, allow=True)))
    out = turn(lane, 102, tailgate=True)
    (alarm,) = of(out, ev.Alarm)
    assert alarm.alarm.what == "tailgating" and alarm.alarm.count == 1
    turn(lane, 103)  # one more within the watch window
    lane.clock.advance(3)
    (rec,) = of(lane.handle(ev.Tick()), ev.Record)
    assert rec.passage.passages == 1 and rec.passage.tailgaters == 2


def test_a_body_through_the_locked_arm_is_a_forced_passage_in_every_locked_state(tmp_path):
    lane = make(tmp_path)
    turn(lane, 10)
    (alarm,) = of(turn(lane, 12), ev.Alarm)
    assert (alarm.alarm.what, alarm.alarm.count, alarm.alarm.detail) == ("forced", 2, "passage without an unlock")
    assert lane.state is State.IDLE
    lane.handle(ev.Presented(who(VALID, KEY)))
    (alarm,) = of(turn(lane, 13), ev.Alarm)
    assert (alarm.alarm.what, alarm.alarm.count, alarm.alarm.detail) == ("forced", 1, "passage before the decision")
    assert lane.state is State.VERIFYING and not of(turn(lane, 13), ev.Alarm)


def test_unlocked_nobody_passes_relocks_and_records_timed_out(tmp_path):
    lane = make(tmp_path)
    (send,) = of(lane.handle(ev.Presented(who(VALID, KEY))), ev.SendVerify)
    lane.handle(ev.Verdict(PersonVerifyAnswer(pass_id=send.request.pass_id, allow=True)))
    lane.clock.advance(9)
    out = lane.handle(ev.Tick())
    assert of(out, ev.Relock) and of(out, ev.Record)[0].passage.outcome == "timed_out"


def test_fire_alarm_frees_and_clearing_counts_the_bodies(tmp_path):
    lane = make(tmp_path)
    turn(lane, 5)
    out = turn(lane, 5, fire=True, locked=False)
    assert lane.state is State.FREE and of(out, ev.Alarm)[0].alarm.what == "fire_alarm"
    assert lane.handle(ev.Presented(who(VALID, KEY))) == [], "a card while the arm is free is not handled"
    turn(lane, 9, fire=True, locked=False)
    (alarm,) = of(turn(lane, 9), ev.Alarm)
    assert alarm.alarm.what == "fire_alarm_cleared" and alarm.alarm.count == 4 and lane.state is State.IDLE


def test_a_read_failure_is_recorded_without_identity(tmp_path):
    lane = make(tmp_path)
    (rec,) = of(lane.handle(ev.ReadFailed("card pulled mid-read")), ev.Record)
    assert rec.passage.outcome == "read_failed" and rec.passage.person_key is None


# -- properties ---------------------------------------------------------------------------------

_token = st.one_of(
    st.sampled_from(["valid", "expired", "badcheck", "allow", "deny", "stale_allow", "timeout",
                     "list_allow", "list_deny", "unlock_failed", "read_failed", "stale"]),
    st.tuples(st.just("bodies"), st.integers(0, 3), st.booleans(), st.booleans()),
    st.floats(min_value=0.0, max_value=12.0).map(lambda s: ("tick", s)),
)


def _event(token, lane: PersonLane, counter: list[int]):
    pid = lane.pass_.pass_id if lane.pass_ else "nobody"
    if isinstance(token, tuple) and token[0] == "tick":
        lane.clock.advance(token[1])
        return ev.Tick()
    if isinstance(token, tuple):
        _, n, tail, fire = token
        counter[0] += n
        return ev.Turnstile(locked=True, tailgate=tail, fire_alarm=fire, passages=counter[0] % 65536)
    return {
        "valid": lambda: ev.Presented(who(VALID, KEY)),
        "expired": lambda: ev.Presented(who(EXPIRED, KEY)),
        "badcheck": lambda: ev.Presented(who(BAD_CHECK, KEY)),
        "allow": lambda: ev.Verdict(PersonVerifyAnswer(pass_id=pid, allow=True)),
        "deny": lambda: ev.Verdict(PersonVerifyAnswer(pass_id=pid, allow=False, reason="blacklisted")),
        "stale_allow": lambda: ev.Verdict(PersonVerifyAnswer(pass_id="old", allow=True)),
        "timeout": lambda: ev.PlatformTimeout(pid),
        "list_allow": lambda: ev.ListLookup(pid, PersonDecision(allow=True, by="offline")),
        "list_deny": lambda: ev.ListLookup(pid, PersonDecision(allow=False, by="offline")),
        "unlock_failed": lambda: ev.UnlockFailed(pid, "refused"),
        "read_failed": lambda: ev.ReadFailed("pulled"),
        "stale": lambda: ev.Turnstile(True, False, False, -1, stale=True),
    }[token]()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(_token, max_size=40))
def test_invariants_over_random_sequences(tmp_path, tokens):
    lane = make(tmp_path)
    counter = [0]
    unlocked: list[str] = []
    records: Counter[str] = Counter()
    for token in tokens:
        event = _event(token, lane, counter)
        for action in lane.handle(event):
            if isinstance(action, ev.Unlock):
                d = lane.pass_.decision if lane.pass_ else None
                assert d is not None and d.allow, "unlock without an allowing decision"
                assert action.pass_id == lane.pass_.pass_id
                unlocked.append(action.pass_id)
            if isinstance(action, ev.Record):
                p = action.passage
                records[p.pass_id] += 1
                assert p.passages <= 1, "one unlock, at most one counted passage"
                if p.passages:
                    assert p.pass_id in unlocked, "a passage counted for a pass that never unlocked"
                    assert p.decision is not None and p.decision.allow
    assert all(n == 1 for n in records.values()), "a pass recorded twice"
    assert len(unlocked) == len(set(unlocked)), "two unlocks for one pass"
