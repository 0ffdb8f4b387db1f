"""The outbox alone: commit before return, seq across restarts, order, caps, disk full, corruption."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent.clock import FakeClock
from agent.config.model import ClassCap
from agent.errors import StorageFullError
from agent.health import assemble
from agent.outbox import Outbox
from agent.outbox.schema import stamp_seq
from tests.outbox.disk import committed_rows


def test_put_returns_only_committed_rows_and_seq_survives_restart(tmp_path):
    db = tmp_path / "o.db"
    with Outbox(db, "lane-1") as outbox:
        first = [outbox.put("scan", {"data": str(i)}, "transactional") for i in range(5)]
        assert committed_rows(db) == [(e.seq, e.id) for e in first]
        outbox.ack([r.rid for r in outbox.next_batch(10)])
    with Outbox(db, "lane-1") as outbox:
        again = outbox.put("scan", {"data": "x"}, "transactional")
    assert [e.seq for e in first] == [1, 2, 3, 4, 5]
    assert again.seq == 6, "seq restarted after the outbox was emptied and reopened"


def test_concurrent_puts_share_commits_and_get_distinct_gapless_seqs(tmp_path):
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        async def many() -> list[int]:
            envs = await asyncio.gather(*(outbox.aput("scan", {"data": str(i)}) for i in range(500)))
            return [e.seq for e in envs]
        seqs = asyncio.run(many())
        assert sorted(seqs) == list(range(1, 501))
        assert outbox._writer.commits < 500, "every put got its own commit: no group commit happened"


def test_batches_come_in_priority_then_seq_order_and_release_hands_rows_out_again(tmp_path):
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        outbox.put("heartbeat", {"n": 1}, "telemetry")
        outbox.put("scan", {"n": 2}, "transactional")
        outbox.put("lane_event", {"n": 3}, "control")
        outbox.put("scan", {"n": 4}, "transactional")
        batch = outbox.next_batch(10)
        assert [(r.priority, r.seq) for r in batch] == [("control", 3), ("transactional", 2), ("transactional", 4), ("telemetry", 1)]
        assert outbox.next_batch(10) == [], "in-flight rows were handed out twice"
        outbox.ack([batch[0].rid])
        outbox.release([r.rid for r in batch[1:]])
        again = outbox.next_batch(10)
        assert [r.msg_id for r in again] == [r.msg_id for r in batch[1:]]
        assert [r.payload for r in again] == [r.payload for r in batch[1:]], "a re-send must be byte-identical"


def test_row_ids_are_never_reused_after_the_outbox_drains(tmp_path):
    """The link tracks rows in flight by rid until their delete commits. A new row that reused
    an acked row's rid (SQLite reuses rowids once a table empties) was skipped as 'in flight'
    and stuck until the next reconnect: first arrivals came out of seq order."""
    import time

    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        for n in range(3):
            outbox.put("scan", {"n": n}, "transactional")
        first = outbox.next_batch(10)
        outbox.ack([r.rid for r in first])
        deadline = time.monotonic() + 5
        while outbox.stats().depth and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outbox.stats().depth == 0
        outbox.put("scan", {"n": 3}, "transactional")
        (row,) = outbox.next_batch(10)
        assert row.rid > max(r.rid for r in first)
        assert row.seq == 4


def test_reput_with_the_same_id_is_idempotent(tmp_path):
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        a = outbox.put("scan", {"data": "1"}, msg_id="01JDGATE0000000000000000AB")
        b = outbox.put("scan", {"data": "1"}, msg_id="01JDGATE0000000000000000AB")
        assert (a.id, a.seq) == (b.id, b.seq)
        assert outbox.stats().rows["transactional"] == 1


def test_telemetry_drops_its_oldest_and_counts(tmp_path):
    caps = {"telemetry": ClassCap(max_rows=3, max_bytes=1_000_000)}
    with Outbox(tmp_path / "o.db", "lane-1", caps=caps) as outbox:
        envs = [outbox.put("heartbeat", {"n": i}, "telemetry") for i in range(5)]
        kept = [r.seq for r in outbox.next_batch(10)]
        stats = outbox.stats()
    assert kept == [e.seq for e in envs[-3:]], "telemetry kept the wrong rows (must drop the oldest)"
    assert stats.dropped["telemetry"] == 2


def test_telemetry_older_than_its_age_limit_is_dropped(tmp_path):
    clock = FakeClock()
    caps = {"telemetry": ClassCap(max_rows=100, max_bytes=1_000_000, max_age_s=60)}
    with Outbox(tmp_path / "o.db", "lane-1", caps=caps, clock=clock) as outbox:
        outbox.put("heartbeat", {"n": 1}, "telemetry")
        clock.advance(120)
        outbox.put("heartbeat", {"n": 2}, "telemetry")
        assert [r.type for r in outbox.next_batch(10)] == ["heartbeat"]
        assert outbox.stats().dropped["telemetry"] == 1


def test_transactional_at_its_cap_blocks_then_raises_and_health_degrades(tmp_path):
    caps = {"transactional": ClassCap(max_rows=3, max_bytes=1_000_000)}
    with Outbox(tmp_path / "o.db", "lane-1", caps=caps) as outbox:
        stored = [outbox.put("scan", {"n": i}) for i in range(3)]
        with pytest.raises(StorageFullError, match="cap"):
            outbox.put("scan", {"n": 99}, timeout=0.3)
        health = assemble(True, outbox.stats())
        assert any("transactional" in r for r in health.degraded)
        assert [s for s, _ in committed_rows(outbox.path)] == [e.seq for e in stored], "a committed row was lost"
        # backpressure, not loss: a blocked put completes once the link acks
        done: list = []
        waiter = threading.Thread(target=lambda: done.append(outbox.put("scan", {"n": 100}, timeout=10)))
        waiter.start()
        outbox.ack([outbox.next_batch(1)[0].rid])
        waiter.join(10)
        assert done and done[0].seq == 4, "the seq of the failed put was consumed or the waiter never ran"
        assert assemble(True, outbox.stats()).degraded, "back at the cap right away: still degraded"


def test_disk_full_degrades_without_crash_or_loss_and_recovers(tmp_path):
    db = tmp_path / "o.db"
    with Outbox(db, "lane-1") as outbox:
        stored = [outbox.put("scan", {"data": "x" * 200}) for _ in range(20)]
        pages = outbox._writer._conn.execute("PRAGMA page_count").fetchone()[0]
        outbox._writer._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageFullError, match="full"):
            for _ in range(200):
                outbox.put("scan", {"data": "y" * 2000}, timeout=0.3)
        stats = outbox.stats()
        assert stats.disk_full and any("full" in r for r in stats.degraded())
        assert stats.errors.get("storage_full", 0) >= 1
        seqs = [s for s, _ in committed_rows(db)]
        assert seqs[:20] == [e.seq for e in stored] and seqs == list(range(1, len(seqs) + 1))
        outbox._writer._conn.execute("PRAGMA max_page_count = 1073741823")
        after = outbox.put("scan", {"data": "z"}, timeout=5)
        assert after.seq == len(seqs) + 1, "a failed transaction consumed a seq"
        assert not outbox.stats().disk_full


def test_corrupt_file_is_moved_aside_and_a_new_one_started(tmp_path, caplog):
    db = tmp_path / "o.db"
    db.write_bytes(b"this is not sqlite" * 500)
    with Outbox(db, "lane-1") as outbox:
        assert outbox.put("scan", {"data": "1"}).seq == 1
        stats = outbox.stats()
    aside = list(tmp_path.glob("o.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not sqlite")
    assert stats.corrupt_moved_to == str(aside[0])
    assert any("corrupt" in r for r in stats.degraded())
    assert any("corrupt" in rec.message for rec in caplog.records)


def test_aput_does_not_block_the_loop(tmp_path):
    caps = {"transactional": ClassCap(max_rows=1, max_bytes=1_000_000)}
    with Outbox(tmp_path / "o.db", "lane-1", caps=caps) as outbox:
        outbox.put("scan", {"n": 0})

        async def scenario() -> int:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            with pytest.raises(StorageFullError):
                await outbox.aput("scan", {"n": 1}, timeout=0.3)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return ticks

        assert asyncio.run(scenario()) >= 5, "the loop stood still while a put waited"


def test_stamp_seq_writes_the_field_itself():
    assert stamp_seq(b'{"id":"A","node":"n\\"seq\\":0,","seq":0,"ts":1}', 42) == b'{"id":"A","node":"n\\"seq\\":0,","seq":42,"ts":1}'
    with pytest.raises(ValueError):
        stamp_seq(b'{"id":"A"}', 1)


def test_after_a_corrupt_file_is_moved_aside_seq_goes_on_from_where_it_was(tmp_path, monkeypatch):
    """seq must never go back: the platform would take new records for ones it has seen."""
    from agent import storage

    db = tmp_path / "o.db"
    with Outbox(db, "lane-1") as outbox:
        for n in range(5):
            outbox.put("scan", {"n": n})
    real_check = storage.quick_check

    def damaged_once(conn, path):
        monkeypatch.setattr(storage, "quick_check", real_check)
        raise storage.CorruptDatabase(path, "quick_check: page 3 is damaged")  # the unit seam: no real bit rot

    monkeypatch.setattr(storage, "quick_check", damaged_once)
    with Outbox(db, "lane-1") as outbox:
        assert outbox.stats().corrupt_moved_to
        assert outbox.put("scan", {"n": 5}).seq == 6


def test_a_failing_write_cycle_answers_its_puts_instead_of_leaving_them_waiting(tmp_path, monkeypatch):
    """An error that is not SQLite's inside the writer's cycle must fail that batch's puts (the
    caller gets the error), not leave them waiting forever; the writer goes on."""
    import time

    from agent.outbox import writer

    real_stamp = writer.stamp_seq

    def stamp(payload: bytes, seq: int) -> bytes:
        if b"boom" in payload:
            raise ValueError("payload has no seq placeholder near its start")  # the unit seam
        return real_stamp(payload, seq)

    monkeypatch.setattr(writer, "stamp_seq", stamp)
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        started = time.monotonic()
        with pytest.raises(ValueError):
            outbox.put("scan", {"data": "boom"}, timeout=30)
        assert time.monotonic() - started < 10, "the put waited instead of failing"
        assert outbox.put("scan", {"data": "fine"}, timeout=5).seq == 1, "a failed cycle must not use up a seq"


def test_put_response_assigns_seq_whatever_the_caller_set(tmp_path):
    import json

    from agent.contract.envelope import Response

    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        response = Response(node="lane-1", type="lane_mode", correlation_id="c", ok=True, seq=7)
        stored = asyncio.run(outbox.put_response(response, "portedge/v1/yt/lane-1/res/lane_mode"))
        (row,) = outbox.next_batch(5)
        assert stored.seq == 1 and json.loads(row.payload)["seq"] == 1


def test_a_stored_answer_sent_again_keeps_its_bytes_and_seq_and_takes_no_new_seq(tmp_path):
    """A duplicate command's answer: the platform drops it by id; its seq must be the first
    copy's, or the platform would be left with a gap that never fills."""
    from agent.contract.envelope import Response

    topic = "portedge/v1/yt/lane-1/res/lane_mode"

    async def scenario(outbox: Outbox) -> None:
        await outbox.aput("scan", {"n": 1})
        await outbox.put_response(Response(node="lane-1", type="lane_mode", correlation_id="c", ok=True), topic,
                                  answers="cmd-1")
        await outbox.aput("scan", {"n": 3})
        first = outbox.next_batch(10)
        outbox.ack([r.rid for r in first])
        while outbox.stats().depth:  # deletes are batched: wait for them
            await asyncio.sleep(0.01)
        stored_topic, stored = outbox.answer_for("cmd-1")
        # still waiting here: nothing new stored
        await outbox.put_again(stored_topic, stored)
        await outbox.put_again(stored_topic, stored)
        (again,) = outbox.next_batch(10)  # behind the reader's cursor, and only once
        original = next(r for r in first if r.kind == "res")
        assert (again.msg_id, again.seq, again.payload, again.topic) == (original.msg_id, original.seq,
                                                                         original.payload, topic)
        assert original.seq == 2
        later = await outbox.aput("scan", {"n": 4})
        assert later.seq == 4, "a re-sent answer must not use up a seq"

    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        asyncio.run(scenario(outbox))


def test_a_catalog_type_is_stored_only_with_its_contract_model(tmp_path):
    from agent.contract.devices import Scan, Weight

    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        with pytest.raises(TypeError, match="'weight' record carries Weight, not Scan"):
            outbox.put("weight", Scan(device="s", data="x"))
        assert outbox.put("weight", Weight(device="s", value=1, unit="kg", mode="gross", stable=True)).seq == 1


def test_a_cycle_of_deletes_and_health_only_skips_the_fsync_and_records_still_get_theirs(tmp_path):
    """Idle flash wear: a heartbeat's delete after PUBACK and the health snapshot commit without
    an fsync (a power cut costs one re-send); a cycle that stores a record stays FULL."""
    import time

    db = tmp_path / "o.db"
    with Outbox(db, "lane-1") as outbox:
        writer = outbox._writer
        outbox.put("heartbeat", {"n": 1}, "telemetry")
        assert writer.unsynced_commits == 0
        outbox.ack([r.rid for r in outbox.next_batch(10)])
        outbox.save_health('{"degraded": false}')
        deadline = time.monotonic() + 10
        while (committed_rows(db) or writer.unsynced_commits == 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert committed_rows(db) == [] and writer.unsynced_commits >= 1
        # the relaxed mode was for that cycle only: the next record is fsync'd as configured
        assert writer._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        synced = writer.unsynced_commits
        again = outbox.put("scan", {"data": "x"}, "transactional")
        assert committed_rows(db) == [(again.seq, again.id)] and writer.unsynced_commits == synced
