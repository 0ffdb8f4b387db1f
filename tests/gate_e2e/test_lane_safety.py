"""Barrier safety through the real controller stub: the barrier stays up while the safety loop
is occupied when the close falls due, and an expired remote open is refused with an error
response while a fresh one is obeyed."""

from __future__ import annotations

import asyncio

import pytest

from agent.contract.gate import RemoteOpen
from agent.gate.events import State

from .lane import LANE, LaneSetup, make_truck, until

pytestmark = pytest.mark.slow


def test_barrier_stays_up_while_the_safety_loop_is_occupied_and_closes_after(lane_run):
    truck = make_truck(31)

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck)
        await lane.arrive(truck)
        await lane.read(truck)
        await lane.wait_open()
        model = lane.model
        model.truck_under_barrier()
        await asyncio.sleep(0.2)
        model.truck_leaves()
        model.set_loop("safety", True)  # a tailgating car noses under the barrier
        await until(lambda: lane.station.lane.state is State.PASSED, 5, "the exit loop to see the truck")
        model.truck_gone()  # exit loop clear: the close would now be due after the hold-off
        await asyncio.sleep(1.5)  # five hold-offs
        assert model.open_limit and "closing" not in lane.moved(), lane.rig.audit()
        assert lane.station.lane.state is State.PASSED and lane.station.guard.inputs.safety
        model.set_loop("safety", False)  # it backs away
        await lane.wait_closed()
        [tx] = await lane.wait_transactions(1)
        return tx, list(lane.model.audit), lane.rig.controller.refusals, lane.rig.violations()

    tx, audit, refusals, violations = lane_run(scenario)
    assert tx["outcome"] == "passed"
    closings = [m for m in audit if m.what == "closing"]
    assert len(closings) == 1 and not (closings[0].safety or closings[0].photocell_broken or closings[0].exit)
    cleared = max(m.t for m in audit if m.what == "loop" and m.detail == "safety clear")
    assert closings[0].t >= cleared, "closing started before the safety loop cleared"
    assert refusals == [] and violations == [], "the agent asked the controller for an unsafe close"


def test_expired_remote_open_is_refused_and_a_fresh_one_obeyed(lane_run):
    async def scenario(lane: LaneSetup):
        order = RemoteOpen(lane=LANE, reason="ambulance behind the truck", operator="ops-7")
        stale = lane.platform.send_command(LANE, "barrier_open", order, expires_in_s=-1)
        refused = await asyncio.to_thread(lane.platform.wait_response, stale, 10.0)
        await asyncio.sleep(0.5)  # would be ample time for the barrier to start moving
        assert lane.rig.audit() == [] and lane.model.closed_limit
        fresh = lane.platform.send_command(LANE, "barrier_open", order, ttl_s=10)
        obeyed = await asyncio.to_thread(lane.platform.wait_response, fresh, 10.0)
        await lane.wait_open()
        await lane.wait_closed()  # nobody came through: the lane closes after pass_s
        [tx] = await lane.wait_transactions(1)
        return refused, obeyed, tx

    refused, obeyed, tx = lane_run(scenario, gate={"pass_s": 1.0})
    assert refused is not None and refused["ok"] is False and refused["error"]["code"] == "expired"
    assert obeyed is not None and obeyed["ok"] is True, obeyed
    assert tx["decision"]["by"] == "staff" and "ops-7" in tx["decision"]["reason"]
    assert tx["outcome"] == "cancelled"  # opened for staff, no passage on the exit loop


def test_estop_while_opening_stops_the_barrier_and_refuses_remote_opens_until_released(lane_run):
    """E-stop pressed as the barrier rises: the controller stops it, the agent goes to the safe
    state (no motion, red) and refuses a remote open with 'unsafe'; after release the lane
    works again and no barrier movement ever started down on the truck."""
    truck = make_truck(47)

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck)
        await lane.arrive(truck)
        await lane.read(truck)
        model = lane.model
        await until(lambda: model.motion == "opening" or model.open_limit, 30, "the barrier to start opening")  # wide: a busy machine
        model.set_estop(True)
        await until(lambda: lane.station.guard.estop, 5, "the agent to see the e-stop")
        await asyncio.sleep(0.5)
        assert model.motion == "idle", model.motion
        assert not lane.station.guard.outputs(lane.station.clock.monotonic()).green
        order = RemoteOpen(lane=LANE, reason="let him through", operator="ops-7")
        refused = await asyncio.to_thread(
            lane.platform.wait_response, lane.platform.send_command(LANE, "barrier_open", order, ttl_s=10), 10.0)
        model.set_estop(False)
        await until(lambda: not lane.station.guard.estop, 5, "the agent to see the release")
        return refused, list(model.audit), lane.rig.violations()

    refused, audit, violations = lane_run(scenario)
    assert refused and refused["ok"] is False and refused["error"]["code"] == "unsafe", refused
    assert any(m.what == "stopped" and m.detail == "e-stop" for m in audit), [m.what for m in audit]
    assert not [m for m in audit if m.what == "closing" and (m.safety or m.photocell_broken)]
    assert violations == []
