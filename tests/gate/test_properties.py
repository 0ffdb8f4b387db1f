"""Table-level properties over random event sequences (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.clock import FakeClock
from agent.config.model import GateSection
from agent.contract.devices import CameraRead, Weight
from agent.contract.gate import LaneInputs, Permit, VerifyAnswer
from agent.gate import events as ev
from agent.gate.barrier import BarrierGuard
from agent.gate.lane import Lane
from agent.gate.table import TABLE

from .fakes import BAD_CHECK, BOX, OTHER_BOX, PLATE, Io, counter_ids


def coils_allow_close(inputs: LaneInputs | None) -> bool:
    """The rule in one line, for assertions: a close coil may be on only if this holds."""
    return inputs is not None and not (inputs.safety or inputs.photocell_broken or inputs.exit or inputs.estop)


T0 = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = GateSection(lane="lane-1", scale="scale-1", state_path=":memory:")

_read = st.builds(
    lambda target, text, conf, pos: CameraRead(device="cam", target=target, text=text, confidence=conf, position=pos),
    st.sampled_from(["plate", "container"]), st.sampled_from([PLATE, BOX, OTHER_BOX, BAD_CHECK, "XX"]),
    st.sampled_from([0.3, 0.9]), st.sampled_from(["front", "rear"]))
_token = st.one_of(
    st.builds(ev.Approach, st.booleans()), st.builds(ev.Safety, st.booleans()),
    st.builds(ev.Photocell, st.booleans()), st.builds(ev.ExitLoop, st.booleans()),
    st.builds(ev.Read, _read),
    st.builds(lambda s: ev.Weighed(Weight(device="scale-1", value=28000, unit="kg", mode="gross", stable=s)), st.booleans()),
    st.sampled_from(["allow", "deny", "timeout", "permit", "nopermit", "error"]),
    st.builds(ev.StaffRelease, st.just("ops"), st.just("why"), st.none(), st.booleans()), st.just(ev.Reread()),
    st.builds(ev.CorrectContainer, st.just("G1"), st.sampled_from(["front", "rear"]), st.sampled_from([BOX, OTHER_BOX, BAD_CHECK])),
    st.builds(ev.StaffDeny, st.just("G1"), st.just("no papers")), st.builds(ev.StaffClose, st.just("G1"), st.just("stuck")),
    st.builds(ev.SetMode, st.sampled_from(["auto", "manual", "closed"])), st.builds(ev.Interlock, st.booleans()),
    st.floats(min_value=0.0, max_value=40.0).map(lambda s: ("tick", s)),
)


def _concrete(token, lane: Lane):
    """Platform tokens become answers for the lane's current transaction (or a stale one)."""
    tid = lane.tx.transaction_id if lane.tx else "stale"
    permit = Permit(permit_id="P", plate=PLATE, type="DI", valid_from=T0, valid_until=T0 + timedelta(days=1))
    return {
        "allow": ev.Verdict(VerifyAnswer(transaction_id=tid, allow=True)),
        "deny": ev.Verdict(VerifyAnswer(transaction_id=tid, allow=False, reason="no")),
        "timeout": ev.PlatformTimeout(tid), "error": ev.PlatformError(tid, "boom"),
        "permit": ev.PermitLookup(tid, permit), "nopermit": ev.PermitLookup(tid, None),
    }[token]


def _good(target: str, text: str, position: str = "front") -> ev.Read:
    return ev.Read(CameraRead(device="cam", target=target, text=text, confidence=0.95, position=position))


#: a truck's way through the lane; random noise is interleaved so the sequences reach the
#: states where closing is decided (pure noise rarely gets past ARRIVED)
HAPPY = [ev.Approach(True), _good("plate", PLATE), _good("container", BOX, "front"), _good("container", BOX, "rear"),
         ev.Weighed(Weight(device="scale-1", value=28000, unit="kg", mode="gross", stable=True)), "allow",
         ev.Approach(False), ev.Safety(True), ev.Safety(False), ev.ExitLoop(True), ev.ExitLoop(False),
         ("tick", 0.6), ("tick", 0.6)]
_noise = st.one_of(
    st.builds(ev.Safety, st.booleans()), st.builds(ev.Photocell, st.booleans()), st.builds(ev.ExitLoop, st.booleans()),
    st.builds(ev.Approach, st.booleans()), st.floats(min_value=0.0, max_value=2.0).map(lambda s: ("tick", s)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_noise, max_size=3), min_size=len(HAPPY), max_size=len(HAPPY)))
def test_a_truck_with_noisy_loops_never_gets_the_barrier_closed_on_it(noise):
    tokens = [t for before, step in zip(noise, HAPPY, strict=True) for t in (*before, step)]
    check_sequence(tokens + [("tick", 1.0), ev.Safety(False), ev.Photocell(False), ev.ExitLoop(False), ("tick", 1.1)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_token, max_size=60))
def test_lane_never_asks_to_close_on_an_occupied_safety_loop(tokens):
    check_sequence(tokens)


def check_sequence(tokens) -> int:
    """Feed the lane; fail on a close with a blocked lane, an open without an allowing
    decision, or a transaction recorded twice. Returns how many closes were asked for."""
    closes = 0
    clock = FakeClock()
    lane = Lane(SETTINGS, TABLE, clock, counter_ids())
    safety, photocell_broken, exit_ = True, True, False  # unknown counts as blocked
    recorded: list[str] = []
    for token in tokens:
        if isinstance(token, tuple):
            clock.advance(token[1])
            event = ev.Tick()
        elif isinstance(token, str):
            event = _concrete(token, lane)
        else:
            event = token
        if isinstance(event, ev.Safety):
            safety = event.occupied
        elif isinstance(event, ev.Photocell):
            photocell_broken = event.broken
        elif isinstance(event, ev.ExitLoop):
            exit_ = event.occupied
        decided = lane.tx.decision if lane.tx else None
        before = (lane.state, lane.tx.to_json() if lane.tx else None, lane.mode)
        actions = lane.handle(event)
        if any(isinstance(a, ev.Refuse) for a in actions):  # a refused command: nothing of it done
            assert all(isinstance(a, ev.Refuse) for a in actions), actions
            assert (lane.state, lane.tx.to_json() if lane.tx else None, lane.mode) == before
        for action in actions:
            if isinstance(action, ev.CloseBarrier):
                closes += 1
                assert not safety and not photocell_broken and not exit_, (safety, photocell_broken, exit_)
            if isinstance(action, ev.OpenBarrier):
                # the decision in force after this event (a staff release overrides an earlier
                # deny); the one before it when the event ended the transaction
                d = (lane.tx.decision if lane.tx else None) or decided
                assert d is not None and d.allow, "open without an allowing decision"
            if isinstance(action, ev.RecordTransaction):
                recorded.append(action.transaction.transaction_id)
    assert len(recorded) == len(set(recorded)), "a transaction recorded twice"
    return closes


def test_the_noisy_truck_strategy_does_reach_the_close():
    assert check_sequence([ev.Safety(False), ev.Photocell(False), *HAPPY]) == 1


_io = st.builds(Io, approach=st.booleans(), safety=st.booleans(), exit=st.booleans(), open_limit=st.booleans(),
                closed_limit=st.booleans(), photocell_broken=st.booleans(), estop=st.booleans())
_guard_step = st.one_of(_io, st.sampled_from(["open", "close", "lost"]), st.floats(0, 3))


@settings(max_examples=300, deadline=None)
@given(st.lists(_guard_step, max_size=80))
def test_guard_never_drives_down_onto_a_blocked_lane(steps):
    guard = BarrierGuard(holdoff_s=1.0)
    now, last = 0.0, None
    for step in steps:
        if isinstance(step, LaneInputs):
            guard.observe(step, now)
            last = step
        elif step == "open":
            guard.request_open(now + 5, now)
        elif step == "close":
            guard.request_close()
        elif step == "lost":
            guard.lost()
            last = None
        else:
            now += step
        out = guard.outputs(now)
        if out.barrier_close:
            assert coils_allow_close(last), last
            assert guard.clear_since is not None and now - guard.clear_since >= 1.0
        if out.green:
            assert last is not None and last.open_limit and not last.estop
        assert not (out.barrier_open and out.barrier_close)


def test_a_staff_release_after_a_staff_deny_opens_on_the_staff_decision():
    """Found by hypothesis: the check once read the deny from before the release."""
    tokens = [ev.Interlock(True), ev.Safety(False), ev.Photocell(False), ev.Approach(True), _good("plate", PLATE),
              _good("container", BAD_CHECK),
              ev.StaffDeny("G1", "no papers"), ev.StaffRelease("ops", "papers found")]
    check_sequence(tokens)
