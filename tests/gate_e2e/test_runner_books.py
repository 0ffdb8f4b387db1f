"""The platform's answer opens the barrier without waiting for the previous turn's records to
be committed (found with bench/bench_gate.py: answer -> open write took ~4 ms, all of it
waiting for fsync'd lane events). A unit test at the runner's seams, kept with the e2e
scenarios that measure the same path."""

from __future__ import annotations

import asyncio

import pytest

from agent.gate.events import State
from tests.gate.fakes import RecordingRecorder, Rig

pytestmark = pytest.mark.slow


class StallingRecorder(RecordingRecorder):
    """Records as usual, but while `stalled` every record waits for `commit` (a slow fsync)."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = False
        self.commit = asyncio.Event()

    async def record(self, type, body, priority="transactional"):
        if self.stalled:
            await self.commit.wait()
        return await super().record(type, body, priority)


def test_platform_answer_opens_the_barrier_while_earlier_records_are_still_committing(tmp_path):
    async def main() -> tuple[list, list]:
        rig = Rig(tmp_path)
        recorder = rig.runner.recorder = rig.runner.books.recorder = rig.recorder = StallingRecorder()
        try:
            await rig.station.start()
            await rig.io()
            rig.platform.mode = "hold"
            await rig.arrive_and_read()
            await asyncio.sleep(0)
            assert rig.lane.state is State.VERIFYING and rig.platform.held == 1
            recorder.stalled = True
            busy = asyncio.ensure_future(rig.io(exit=True))  # a loop change; rig.io waits for its books: the disk
            await asyncio.sleep(0.05)
            assert not busy.done()
            rig.platform.release()
            for _ in range(100):
                if any(w["barrier_open"] for w in rig.port.writes):
                    break
                await asyncio.sleep(0.01)
            opened = [w for w in rig.port.writes if w["barrier_open"]]
            recorder.commit.set()
            await busy
            await rig.settle()
            return opened, recorder.of("lane_event")
        finally:
            recorder.commit.set()
            await rig.close()

    opened, events = asyncio.run(main())
    assert opened, "the barrier-open write waited for an earlier turn's records"
    values = [e.value for e in events if e.what in ("loop", "state")]
    assert values.index("exitloop=on") < values.index("DECIDED"), "the books lost their turn order"
