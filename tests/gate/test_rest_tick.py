"""The station ticks slowly while the lane is at rest (nothing a tick could change) and at
`tick_s` again from the first turn that stirs it: a truck on the approach loop is ticked at
once, not after the rest period."""

from __future__ import annotations

import asyncio

from agent.gate import station as station_module

from .fakes import Rig


async def _ticks_while(rig: Rig, ticks: list[float], seconds: float) -> int:
    before = len(ticks)
    await asyncio.sleep(seconds)
    return len(ticks) - before


async def _wait_ticks(ticks: list[float], n: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while len(ticks) < n:
            await asyncio.sleep(0.01)


def test_a_lane_at_rest_is_not_ticked_until_a_turn_stirs_it(play, monkeypatch):
    monkeypatch.setattr(station_module, "REST_TICK_S", 60.0)  # no rest timeout inside this test

    async def scenario(rig: Rig) -> None:
        await rig.io(closed_limit=True)  # barrier down, loops clear, beam intact
        assert rig.runner.at_rest
        ticks: list[float] = []
        tick = rig.runner.tick

        async def counted() -> None:
            ticks.append(asyncio.get_running_loop().time())
            await tick()

        rig.runner.tick = counted  # type: ignore[method-assign]
        run = asyncio.create_task(rig.station.run())
        try:
            await _wait_ticks(ticks, 1)  # the loop's first tick, then rest
            assert await _ticks_while(rig, ticks, 5 * rig.settings.tick_s) == 0
            await rig.io(approach=True, closed_limit=True)  # a truck: the lane is not at rest
            assert not rig.runner.at_rest
            await _wait_ticks(ticks, 4)  # woken by the turn, then every tick_s
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)

    play(scenario)


def test_what_keeps_a_lane_from_rest(play):
    async def scenario(rig: Rig) -> None:
        await rig.io(closed_limit=True)
        assert rig.runner.at_rest
        await rig.io(closed_limit=False)  # the boom left its closed limit
        assert not rig.runner.at_rest
        await rig.io(closed_limit=True, photocell_broken=True)  # something under the boom
        assert rig.runner.at_rest  # a broken beam alone keeps the boom down: nothing to time
        await rig.io(closed_limit=True, approach=True)  # a truck arriving arms the lane's timers
        assert not rig.runner.at_rest
        await rig.io(closed_limit=True, approach=False)
        await rig.tick(30)  # no reads in time: TROUBLE, which waits for staff with a timer
        assert rig.lane.state.value == "TROUBLE" and not rig.runner.at_rest
        await rig.station.runner.controller_lost("gone")
        assert not rig.runner.at_rest  # a lost module: keep ticking at tick_s

    play(scenario)
