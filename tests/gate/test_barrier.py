"""Barrier safety rules, one by one, on the sans-I/O guard and through the station."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from agent.contract.envelope import dump
from agent.contract.gate import RemoteOpen
from agent.contract.node import DeviceStatus
from agent.errors import CommandExpired, InvalidCommandError
from agent.gate import events as ev
from agent.gate.barrier import SAFE, BarrierGuard, Outputs
from agent.gate.events import State
from agent.link.commands import CommandDesk
from agent.outbox import Outbox

from .fakes import Io


def guard_with(io: Io, now: float = 0.0, holdoff: float = 1.0) -> BarrierGuard:
    g = BarrierGuard(holdoff)
    g.observe(io, now)
    return g


def test_unknown_inputs_mean_safe_state():
    g = BarrierGuard()
    g.request_open(expires_at=10, now=0)
    assert g.outputs(0) == SAFE and SAFE.red and not SAFE.barrier_open and not SAFE.barrier_close


def test_close_waits_for_holdoff_after_lane_clears():
    g = guard_with(Io(closed_limit=False, open_limit=True, exit=True), now=0)
    g.request_close()
    assert not g.outputs(0).barrier_close
    g.observe(Io(closed_limit=False, open_limit=True), now=5.0)  # exit loop clears at t=5
    assert not g.outputs(5.9).barrier_close
    assert g.outputs(6.0).barrier_close


@pytest.mark.parametrize("blocker", [{"safety": True}, {"photocell_broken": True}, {"exit": True}])
def test_closing_barrier_reverses_when_lane_blocks(blocker):
    g = guard_with(Io(closed_limit=False, open_limit=False), now=0)
    g.request_close()
    assert g.outputs(2.0).barrier_close  # coming down
    g.observe(Io(closed_limit=False, open_limit=False, **blocker), now=2.1)
    out = g.outputs(2.1)
    assert out.barrier_open and not out.barrier_close and g.reversals == 1


def test_reversal_runs_to_the_open_limit_while_the_lane_stays_blocked():
    g = guard_with(Io(closed_limit=False, open_limit=False), now=0)
    g.request_close()
    assert g.outputs(2.0).barrier_close
    for t in (2.1, 2.5, 3.0):  # every tick while blocked: still driving up
        g.observe(Io(closed_limit=False, open_limit=False, safety=True), now=t)
        assert g.outputs(t).barrier_open
    g.observe(Io(closed_limit=False, open_limit=True, safety=True), now=3.5)
    assert g.outputs(3.5) == Outputs() and g.reversals == 1


@pytest.mark.parametrize("blocker", [{"safety": True}, {"photocell_broken": True}, {"exit": True}])
def test_boom_stopped_by_estop_holds_still_after_reset_while_something_is_under_it(blocker):
    """Staff release starts opening, e-stop stops the boom part-way, the e-stop is reset with
    the lane blocked: nothing asked for motion, so the boom stays where it is (no passage
    without a new decision) and closes only once the lane is clear for the hold-off."""
    g = guard_with(Io(closed_limit=True), now=0)
    g.request_open(expires_at=30, now=0)
    assert g.outputs(0).barrier_open
    g.open_written()
    g.observe(Io(closed_limit=False, open_limit=False, estop=True), now=1.7)  # stopped at ~42 %
    assert g.outputs(1.7) == SAFE and g.take_abandoned() == "e-stop"
    for t in (2.0, 2.5, 5.0, 20.0):  # reset, blocked during (and long after) the hold-off
        g.observe(Io(closed_limit=False, open_limit=False, **blocker), now=t)
        out = g.outputs(t)
        assert not out.barrier_open and not out.barrier_close and out.red and not out.green
    g.observe(Io(closed_limit=False, open_limit=False), now=21.0)
    assert not g.outputs(21.5).barrier_close
    assert g.outputs(22.0).barrier_close and g.reversals == 0


def test_boom_stopped_part_way_is_reversed_only_if_it_was_closing():
    g = guard_with(Io(closed_limit=False, open_limit=False), now=0)
    g.request_close()
    assert g.outputs(0.5) == Outputs()  # hold-off running: stopped part-way
    g.observe(Io(closed_limit=False, open_limit=False, photocell_broken=True), now=0.8)
    assert g.outputs(0.8) == Outputs(), "not closing: a beam break does not lift it"
    g.observe(Io(closed_limit=False, open_limit=False), now=1.0)
    assert g.outputs(2.0).barrier_close
    g.observe(Io(closed_limit=False, open_limit=False, photocell_broken=True), now=2.2)
    assert g.outputs(2.2).barrier_open, "closing: a beam break reverses it"


def test_barrier_already_down_is_not_lifted_into_a_vehicle():
    g = guard_with(Io(closed_limit=True, safety=True), now=0)
    g.request_close()
    assert g.outputs(10) == SAFE


def test_green_only_with_open_limit_made():
    g = guard_with(Io(closed_limit=True), now=0)
    g.request_open(expires_at=5, now=0)
    moving = g.outputs(0)
    assert moving.barrier_open and moving.red and not moving.green
    g.observe(Io(closed_limit=False, open_limit=True), now=3)
    up = g.outputs(3)
    assert up.green and not up.red


def test_estop_and_controller_loss_go_to_safe_state():
    g = guard_with(Io(closed_limit=False, open_limit=True), now=0)
    g.request_open(expires_at=5, now=0)
    g.observe(Io(closed_limit=False, open_limit=True, estop=True), now=1)
    assert g.outputs(1) == SAFE and not g.safe_to_actuate
    assert g.take_abandoned() == "e-stop", "e-stop drops the open wish: a reset needs a new command"
    g.observe(Io(closed_limit=False, open_limit=True), now=2)
    assert not g.outputs(2).green and not g.want_open
    g.request_open(expires_at=10, now=2)
    assert g.outputs(3).green
    g.lost()
    assert g.outputs(3) == SAFE and not g.safe_to_actuate


def test_expired_open_is_refused_by_the_guard():
    g = guard_with(Io(), now=0)
    with pytest.raises(CommandExpired):
        g.request_open(expires_at=1.0, now=1.0)
    assert not g.want_open


def test_expired_open_action_is_refused_and_logged_as_lane_event(play):
    async def scenario(rig):
        await rig.io()
        await rig.runner._run([])  # nothing, just to have written outputs once
        await rig.runner._do(ev.OpenBarrier("T-1", expires_at=rig.clock.monotonic() - 0.001))
        assert not rig.station.guard.want_open
        assert rig.runner.counters["open_refused_expired"] == 1

    rig = play(scenario)
    refused = [e for e in rig.recorder.of("lane_event") if e.what == "barrier" and e.value == "refused"]
    assert refused and refused[0].detail.startswith("expired")


def test_expired_remote_open_is_refused_where_it_is_received(play, tmp_path):
    """Expiry is checked once, by the link's command desk, before the gate's handler runs."""
    counts: Counter[str] = Counter()

    async def scenario(rig):
        outbox = Outbox(tmp_path / "o.db", "lane-1")
        desk = CommandDesk("yt", "lane-1", outbox, rig.clock, lambda what: counts.update([what]))
        try:
            for name, handler in rig.station.command_handlers().items():
                desk.register(name, handler)
            await rig.io()
            await rig.io(approach=True)
            stale = rig.command("barrier_open", RemoteOpen(lane="lane-1", reason="papers ok", operator="ops-7"), expires_in=30)
            rig.clock.advance(31)
            await desk.handle("barrier_open", dump(stale), {})
            assert rig.lane.state is State.ARRIVED and not rig.station.guard.want_open
        finally:
            await desk.close()
            outbox.close()

    rig = play(scenario)
    assert counts["command_expired"] == 1 and counts["command_internal"] == 0
    assert not any(w["barrier_open"] for w in rig.port.writes)


def test_remote_open_refused_while_estop_or_for_another_lane(play):
    async def scenario(rig):
        handler = rig.station.command_handlers()["barrier_open"]
        await rig.io(estop=True)
        with pytest.raises(InvalidCommandError) as err:
            await handler(rig.command("barrier_open", RemoteOpen(lane="lane-1", reason="x", operator="o")))
        assert err.value.code == "unsafe"
        with pytest.raises(InvalidCommandError) as err:
            await handler(rig.command("barrier_open", RemoteOpen(lane="lane-9", reason="x", operator="o")))
        assert err.value.code == "refused"
        await rig.io(estop=False)
        await handler(rig.command("barrier_open", RemoteOpen(lane="lane-1", reason="x", operator="o")))
        assert rig.port.last["barrier_open"]

    play(scenario)


def test_start_and_controller_loss_write_the_safe_state(play):
    async def scenario(rig):
        assert rig.port.writes[0] == {"barrier_open": False, "barrier_close": False, "red": True, "green": False}
        await rig.io()
        await rig.station.emit("io-1", DeviceStatus(device="io-1", kind="gate_io", status="offline", detail="timeout"))
        assert rig.lane.safety and rig.lane.photocell_broken, "the lane assumes the worst"
        with pytest.raises(InvalidCommandError) as err:
            await rig.station.command_handlers()["barrier_open"](
                rig.command("barrier_open", RemoteOpen(lane="lane-1", reason="x", operator="o")))
        assert err.value.code == "unsafe"

    rig = play(scenario)
    assert any(e.value == "controller_lost" for e in rig.recorder.of("lane_event"))


def test_restart_mid_transaction_records_aborted_and_goes_safe(play):
    async def scenario(rig):
        rig.platform.mode = "hold"
        await rig.io()
        await rig.arrive_and_read()
        assert rig.lane.state is State.VERIFYING
        tid = rig.lane.tx.transaction_id
        await rig.station.close()  # the agent dies here
        rig.port.writes.clear()
        rig.station = rig._station()
        [aborted] = await rig.station.start()
        assert aborted.transaction_id == tid
        assert rig.port.writes[0]["red"] and not rig.port.writes[0]["barrier_open"]
        assert rig.station.journal.drafts("lane-1") == []
        assert await rig.station.recover() == [], "recorded once"
        rig.clock.advance(timedelta(seconds=1).total_seconds())

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "aborted" and "VERIFYING" in tx.trouble_reason
    assert tx.plate is not None and len(tx.containers) == 2 and len(tx.reads) == 3


def test_stale_snapshot_is_a_controller_loss_reported_once(play):
    async def scenario(rig):
        await rig.io()
        for _ in range(3):
            await rig.station.emit("io-1", replace(Io(safety=True, photocell_broken=True), stale=True))
        assert not rig.station.guard.safe_to_actuate and rig.port.last["red"]
        await rig.io()  # a fresh snapshot: the controller is back
        assert rig.station.guard.safe_to_actuate

    rig = play(scenario)
    assert sum(e.value == "controller_lost" for e in rig.recorder.of("lane_event")) == 1
