"""Finding: after an e-stop the barrier rose without a new release. The boom stopped part-way
up, the e-stop was reset while the exit loop (or the beam) was blocked, and the agent drove
it fully up. Through the gate controller stub on a pty, a real broker and the platform
simulator: the boom holds still while something is under it, and comes down only once the
lane is clear for the hold-off."""

from __future__ import annotations

import asyncio

import pytest

from tests.gate_e2e.conftest import lane_run  # noqa: F401 - the fixture, used by name
from tests.gate_e2e.lane import LaneSetup, make_truck, until


@pytest.mark.parametrize("blocker", ["exit", "photocell"])
def test_a_boom_stopped_by_estop_does_not_rise_when_the_estop_is_reset(lane_run, blocker):  # noqa: F811
    truck = make_truck(71)

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck)
        await lane.arrive(truck)
        await lane.read(truck)
        model = lane.model
        await until(lambda: model.motion == "opening" and model.position > 0.2, 10, "the barrier part-way up")
        model.set_estop(True)
        await until(lambda: lane.station.guard.estop, 5, "the agent to see the e-stop")
        stopped_at = model.position
        if blocker == "exit":
            model.set_loop("exit", True)
        else:
            model.set_photocell(True)
        released = len(model.audit)
        model.set_estop(False)
        await until(lambda: not lane.station.guard.estop, 5, "the agent to see the release")
        await asyncio.sleep(1.5)  # several hold-offs and many polls: nobody asked for motion
        held = (model.position, model.motion, [m.what for m in model.audit[released:]])
        if blocker == "exit":
            model.set_loop("exit", False)
        else:
            model.set_photocell(False)
        model.set_loop("approach", False)
        await lane.wait_closed(timeout=20)  # the lane clear for the hold-off: the boom comes down
        return stopped_at, held, lane.rig.violations()

    stopped_at, (position, motion, after_release), violations = lane_run(scenario, gate={"holdoff_s": 0.3})
    assert 0 < stopped_at < 1 and position == pytest.approx(stopped_at) and motion == "idle", (stopped_at, position)
    assert "opening" not in after_release and "reverse" not in after_release, after_release
    assert violations == []
