"""The put path: bursts (put_many) all or none in one commit, puts of one loop turn leaving
together, callers woken in batches, time limits and cancellation without loss or seq gaps."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent.config.model import ClassCap
from agent.errors import StorageFullError
from agent.outbox import Outbox
from agent.outbox import writer as writer_module
from agent.outbox.store import MAX_PUT_MANY
from tests.outbox.disk import committed_rows


def test_put_many_returns_committed_records_in_order_from_one_commit(tmp_path):
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        outbox.put("scan", {"n": 0})
        commits = outbox._writer.commits
        burst = outbox.put_many([("scan", {"n": i}) for i in range(1, 51)])
        assert outbox._writer.commits == commits + 1, "a burst waits for one commit"
        assert [e.seq for e in burst] == list(range(2, 52))
        assert [e.body for e in burst] == [{"n": i} for i in range(1, 51)]
        assert len({e.id for e in burst}) == 50
        assert committed_rows(outbox.path)[1:] == [(e.seq, e.id) for e in burst]


def test_aput_many_beside_single_puts_keeps_its_burst_together(tmp_path):
    async def scenario(outbox: Outbox) -> tuple[list, list]:
        singles = [outbox.aput("heartbeat", {"n": i}, "telemetry") for i in range(20)]
        results = await asyncio.gather(*singles, outbox.aput_many([("scan", {"n": i}) for i in range(30)]),
                                       *(outbox.aput("scan", {"n": 100 + i}) for i in range(20)))
        return results[20], [*results[:20], *results[21:]]

    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        burst, singles = asyncio.run(scenario(outbox))
        seqs = [e.seq for e in burst]
        assert seqs == list(range(seqs[0], seqs[0] + 30)), "a burst's records were split up"
        everything = sorted(seqs + [e.seq for e in singles])
        assert everything == list(range(1, 71)) and [s for s, _ in committed_rows(outbox.path)] == everything


def test_a_burst_that_does_not_fit_its_class_is_stored_whole_later_or_not_at_all(tmp_path):
    caps = {"transactional": ClassCap(max_rows=5, max_bytes=1_000_000)}
    with Outbox(tmp_path / "o.db", "lane-1", caps=caps) as outbox:
        stored = [outbox.put("scan", {"n": i}) for i in range(3)]
        with pytest.raises(StorageFullError, match="cap"):
            outbox.put_many([("scan", {"n": 10 + i}) for i in range(3)], timeout=0.3)
        assert [s for s, _ in committed_rows(outbox.path)] == [1, 2, 3], "part of a refused burst was stored"
        done: list = []
        waiter = threading.Thread(target=lambda: done.append(outbox.put_many([("scan", {"n": 20 + i}) for i in range(3)],
                                                                             timeout=10)))
        waiter.start()
        outbox.ack([outbox.next_batch(1)[0].rid])
        waiter.join(10)
        assert done and [e.seq for e in done[0]] == [4, 5, 6], "the refused burst used up seqs, or never ran"
        assert [s for s, _ in committed_rows(outbox.path)] == [e.seq for e in stored[1:]] + [4, 5, 6]


def test_bursts_that_can_never_be_stored_are_refused_at_once(tmp_path):
    caps = {"control": ClassCap(max_rows=4, max_bytes=1_000_000), "transactional": ClassCap(max_rows=100, max_bytes=2_000)}
    with Outbox(tmp_path / "o.db", "lane-1", caps=caps) as outbox:
        with pytest.raises(ValueError, match="cap"):
            outbox.put_many([("lane_event", {"n": i}) for i in range(5)], "control")
        with pytest.raises(ValueError, match="bytes"):
            outbox.put_many([("scan", {"data": "x" * 500}) for _ in range(4)])
        with pytest.raises(ValueError, match="1 to"):
            outbox.put_many([])
        with pytest.raises(ValueError, match="1 to"):
            asyncio.run(outbox.aput_many([("scan", {})] * (MAX_PUT_MANY + 1)))
        assert committed_rows(outbox.path) == []


def test_a_burst_on_a_full_disk_is_stored_all_or_none_and_goes_in_once_there_is_room(tmp_path):
    db = tmp_path / "o.db"
    with Outbox(db, "lane-1") as outbox:
        outbox.put("scan", {"data": "x"})
        pages = outbox._writer._conn.execute("PRAGMA page_count").fetchone()[0]
        outbox._writer._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageFullError, match="full"):
            outbox.put_many([("scan", {"data": "y" * 2000}) for _ in range(20)], timeout=0.5)
        assert [s for s, _ in committed_rows(db)] == [1]
        outbox._writer._conn.execute("PRAGMA max_page_count = 1073741823")
        burst = outbox.put_many([("scan", {"data": "z"}) for _ in range(5)], timeout=5)
        assert [e.seq for e in burst] == [2, 3, 4, 5, 6], "a refused burst consumed seqs"


def test_puts_of_one_loop_turn_leave_in_one_submit_and_are_woken_per_commit(tmp_path, mocker):
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        submit = mocker.spy(outbox._writer, "submit")
        answer_all = mocker.spy(writer_module, "_answer_all")

        async def scenario() -> list[int]:
            envs = await asyncio.gather(*(outbox.aput("scan", {"n": i}) for i in range(200)))
            return [e.seq for e in envs]

        assert sorted(asyncio.run(scenario())) == list(range(1, 201))
        assert submit.call_count == 1 and len(submit.call_args.args[0]) == 200
        assert answer_all.call_count <= outbox._writer.commits, "callers were woken more than once per commit"
        assert sum(len(call.args[0]) for call in answer_all.call_args_list) == 200


def test_puts_with_different_time_limits_in_one_turn_each_keep_their_own(tmp_path):
    caps = {"transactional": ClassCap(max_rows=1, max_bytes=1_000_000)}

    async def scenario(outbox: Outbox) -> int:
        outbox.put("scan", {"n": 0})  # the class is full: both puts below wait
        patient = asyncio.ensure_future(outbox.aput("scan", {"n": 1}, timeout=30))
        impatient = asyncio.ensure_future(outbox.aput("scan", {"n": 2}, timeout=0.3))
        with pytest.raises(StorageFullError, match="cap"):
            await impatient
        assert not patient.done(), "the patient put was given up on with the impatient one"
        outbox.ack([outbox.next_batch(1)[0].rid])
        return (await asyncio.wait_for(patient, 10)).seq

    with Outbox(tmp_path / "o.db", "lane-1", caps=caps) as outbox:
        assert asyncio.run(scenario(outbox)) == 2
        assert [s for s, _ in committed_rows(outbox.path)] == [2], "the put that gave up was stored after all"


def test_a_put_cancelled_while_waiting_is_never_stored_and_takes_no_seq(tmp_path):
    caps = {"transactional": ClassCap(max_rows=1, max_bytes=1_000_000)}

    async def scenario(outbox: Outbox) -> int:
        outbox.put("scan", {"n": 0})
        waiting = asyncio.ensure_future(outbox.aput("scan", {"n": 1}))
        burst = asyncio.ensure_future(outbox.aput_many([("scan", {"n": 2})]))
        await asyncio.sleep(0.2)
        waiting.cancel()
        burst.cancel()
        await asyncio.gather(waiting, burst, return_exceptions=True)
        outbox.ack([outbox.next_batch(1)[0].rid])
        return (await outbox.aput("scan", {"n": 3}, timeout=10)).seq

    with Outbox(tmp_path / "o.db", "lane-1", caps=caps) as outbox:
        assert asyncio.run(scenario(outbox)) == 2
        assert [s for s, _ in committed_rows(outbox.path)] == [2]


def test_a_put_made_as_the_outbox_closes_fails_clearly(tmp_path):
    outbox = Outbox(tmp_path / "o.db", "lane-1")

    async def scenario() -> None:
        pending = asyncio.ensure_future(outbox.aput("scan", {"n": 1}))
        await asyncio.sleep(0)  # the put is made; it leaves at the end of the turn
        outbox.close()
        with pytest.raises(StorageFullError, match="closed"):
            await asyncio.wait_for(pending, 10)

    asyncio.run(scenario())


def test_a_commit_answers_its_puts_and_wakes_a_loop_listener_in_one_hand_over(tmp_path, mocker):
    """The link's wake-up rides with the put answers of its loop: one call_soon_threadsafe per
    commit, not one for the answers and another for the listener."""
    async def main() -> tuple[int, list[str]]:
        loop = asyncio.get_running_loop()
        outbox = Outbox(tmp_path / "o.db", "lane-1")
        order: list[str] = []
        woken = asyncio.Event()

        def listener() -> None:
            order.append("listener")
            woken.set()

        outbox.add_listener(listener, loop)
        handovers = mocker.spy(loop, "call_soon_threadsafe")
        try:
            put = asyncio.ensure_future(outbox.aput("scan", {"n": 1}))
            put.add_done_callback(lambda _: order.append("put answered"))
            await put
            await asyncio.wait_for(woken.wait(), 10)
            count = handovers.call_count
        finally:
            outbox.remove_listener(listener)
            outbox.close()
        return count, order

    count, order = asyncio.run(main())
    assert count == 1
    assert sorted(order) == ["listener", "put answered"]
