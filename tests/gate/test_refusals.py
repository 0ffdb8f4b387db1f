"""A command the lane cannot carry out is refused by the table, nothing of it done: every
command event has a rule or a refusal in every state, and a refusal leaves the lane as it was."""

from __future__ import annotations

import pytest

from agent.clock import FakeClock
from agent.config.model import GateSection
from agent.contract.gate import RemoteOpen
from agent.errors import InvalidCommandError
from agent.gate import events as ev
from agent.gate.events import State
from agent.gate.lane import Lane
from agent.gate.table import TABLE

from .fakes import counter_ids

COMMAND_EVENTS = (ev.StaffRelease, ev.Reread, ev.CorrectContainer, ev.StaffDeny, ev.StaffClose, ev.SetMode)


@pytest.mark.parametrize("kind", COMMAND_EVENTS, ids=lambda k: k.__name__)
def test_every_command_event_has_a_rule_or_a_refusal_in_every_state(kind):
    """Never silently ignored: an ignored command would be answered `ok` with nothing done."""
    missing = [s.value for s in State if TABLE.get((s, kind)) is None and TABLE.get((None, kind)) is None]
    assert missing == []


def _lane() -> Lane:
    lane = Lane(GateSection(lane="lane-1", state_path=":memory:"), TABLE, FakeClock(), counter_ids())
    lane.handle(ev.Safety(False))
    lane.handle(ev.Photocell(False))
    return lane


def test_a_release_while_the_guard_forbids_motion_is_refused_and_starts_nothing():
    lane = _lane()
    out = lane.handle(ev.StaffRelease("ops-7", "papers ok"))
    assert out == [ev.Refuse("unsafe", "barrier cannot open: e-stop, controller lost or lane inputs unknown")]
    assert lane.state is State.IDLE and lane.tx is None
    lane.handle(ev.Interlock(True))
    out = lane.handle(ev.StaffRelease("ops-7", "papers ok"))
    assert any(isinstance(a, ev.OpenBarrier) for a in out) and lane.state is State.BARRIER_OPEN
    out = lane.handle(ev.StaffRelease("ops-7", "again"))
    assert out == [ev.Refuse("refused", "the barrier is already open for a truck (BARRIER_OPEN)")]


def test_the_consoles_allow_is_only_for_a_truck_in_trouble():
    lane = _lane()
    lane.handle(ev.Interlock(True))
    lane.handle(ev.Approach(True))
    assert lane.state is State.ARRIVED
    out = lane.handle(ev.StaffRelease("G1", "ok", in_trouble=True))
    assert out == [ev.Refuse("refused", "no transaction in TROUBLE (lane is ARRIVED)")]
    assert lane.state is State.ARRIVED and lane.tx is not None and lane.tx.decision is None


@pytest.mark.parametrize(("event", "reason"), [
    (ev.Reread(), "nothing to re-read in state IDLE"),
    (ev.CorrectContainer("G1", "front", "CSQU3054383"), "not possible while the lane is IDLE"),
    (ev.StaffDeny("G1", "no papers"), "no transaction in TROUBLE (lane is IDLE)"),
    (ev.StaffClose("G1", "stuck"), "the barrier is not open for a truck (lane is IDLE)"),
], ids=["reread", "correct", "deny", "close"])
def test_a_command_with_no_rule_in_the_state_is_refused_with_the_reason(event, reason):
    lane = _lane()
    assert lane.handle(event) == [ev.Refuse("refused", reason)]
    assert lane.state is State.IDLE and lane.tx is None


def test_a_remote_open_refused_as_unsafe_leaves_the_lane_untouched(play):
    async def scenario(rig):
        handler = rig.station.command_handlers()["barrier_open"]
        await rig.io(estop=True, approach=True)
        assert rig.lane.state is State.ARRIVED
        with pytest.raises(InvalidCommandError) as err:
            await handler(rig.command("barrier_open", RemoteOpen(lane="lane-1", reason="x", operator="o")))
        assert (err.value.code, err.value.reason) == ("unsafe", "barrier cannot open: e-stop, controller lost or lane inputs unknown")
        assert rig.lane.state is State.ARRIVED and rig.lane.tx is not None and rig.lane.tx.decision is None

    rig = play(scenario)
    assert not any(w["barrier_open"] for w in rig.port.writes)
