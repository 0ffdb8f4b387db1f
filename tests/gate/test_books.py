"""The lane's books: the lane's turns never wait for storage; lane events over a full class
are counted and summarised; a gate transaction is never the record dropped."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

from agent.clock import FakeClock
from agent.config.model import ClassCap
from agent.contract.devices import CameraRead
from agent.contract.gate import LaneEvent
from agent.gate.events import State
from agent.gate.journal import Journal
from agent.gate.store import open_gate_db
from agent.outbox import Outbox

from .fakes import BOX, PLATE


def test_a_lane_whose_lane_events_cannot_be_stored_still_lets_the_truck_through(play):
    """The control class at its cap (puts wait): the barrier, the lane's states and the
    transaction record do not wait for the lane events."""
    async def scenario(rig):
        stuck = asyncio.Event()  # never set: a lane_event put that waits for room
        real = rig.recorder.record

        async def control_full(type, body, priority="transactional"):
            if type == "lane_event":
                await stuck.wait()
            return await real(type, body, priority)

        rig.recorder.record = control_full
        states = []

        async def io(**changes: bool) -> None:  # not rig.io(): that waits for the books
            rig.io_state = replace(rig.io_state, **changes)
            rig.port.inputs = rig.io_state
            await rig.station.emit("io-1", rig.io_state)
            states.append(rig.lane.state)

        async def read(device: str, target: str, text: str, position: str) -> None:
            await rig.station.emit(device, CameraRead(device=device, target=target, text=text, confidence=0.97,
                                                      position=position, image_ref=f"{device}/1.jpg"))

        async with asyncio.timeout(10):  # on a lane whose turn waits for its records: forever
            await io()
            await io(approach=True)
            await read("cam-plate", "plate", PLATE, "front")
            await read("cam-front", "container", BOX, "front")
            await read("cam-rear", "container", BOX, "rear")
            while rig.lane.state is not State.BARRIER_OPEN:
                await asyncio.sleep(0.01)  # the platform's answer
            assert rig.port.last["barrier_open"]
            await io(open_limit=True, closed_limit=False)
            await io(approach=False, safety=True)
            await io(safety=False, exit=True)
            await io(exit=False)
            rig.clock.advance(1.1)
            await rig.runner.tick()
            assert rig.lane.state is State.IDLE and rig.port.last["barrier_close"]
            while not rig.transactions():
                await asyncio.sleep(0.01)
        [tx] = rig.transactions()
        assert tx.outcome == "passed"
        assert rig.recorder.of("lane_event") == [] and rig.runner.books._pending, "lane events still waiting"
        stuck.set()

    play(scenario)


def test_lane_events_over_a_full_control_class_are_counted_and_summarised(tmp_path):
    from agent.gate.books import LaneBooks

    async def scenario() -> None:
        clock = FakeClock()
        caps = {"control": ClassCap(max_rows=5, max_bytes=1_000_000)}
        outbox = Outbox(tmp_path / "o.db", "lane-1", caps=caps, clock=clock, put_timeout_s=0.3)
        db = open_gate_db(tmp_path / "gate.db")
        counters: Counter[str] = Counter()
        books = LaneBooks("lane-1", outbox, Journal(db), clock, counters, max_pending=8)
        try:
            for n in range(50):  # 8 handed over (5 fit, 3 give up after 0.3 s), 42 over the limit
                books.lane_event(LaneEvent(lane="lane-1", what="loop", value=f"v{n}"))
            await books.drain()
            stored = outbox.next_batch(100)
            assert len(stored) == 5 and books.not_recorded == 45
            assert counters["lane_event_not_recorded"] == 45
            outbox.ack([r.rid for r in stored])  # the broker took them: room again
            await asyncio.sleep(0.2)
            books.lane_event(LaneEvent(lane="lane-1", what="loop", value="after"))
            await books.drain()
            summary, after = [r.payload for r in outbox.next_batch(100)]
            assert b'"what":"records"' in summary and b"45 lane event(s) not recorded" in summary
            assert b'"value":"after"' in after and books.not_recorded == 0
        finally:
            await books.close(1.0)
            outbox.close()
            db.close()

    asyncio.run(scenario())
