"""The task board through whole tasks: every transition, in order, with its scans as evidence."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from .fakes import AWB, SSCCS, Rig


def run(coro):
    return asyncio.run(coro)


def test_a_whole_task_emits_one_update_per_transition_in_order(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign()
        assert (await rig.board.accept("T-1")).code == "ok_accepted"
        assert (await rig.board.scan("a 3 12 2")).code == "ok_at_source"  # spelled as scanned
        first = await rig.board.scan(f"{AWB}-001")
        assert (first.ok, first.code, first.state, first.picked, first.pieces) == (True, "ok_piece", "AT_SOURCE", 1, 3)
        assert (await rig.board.scan(f"{AWB}-002")).state == "AT_SOURCE"
        picked = await rig.board.scan("176-12345675-003")
        assert (picked.code, picked.state) == ("ok_picked", "PICKED")
        delivered = await rig.board.scan("bay 07")
        assert (delivered.code, delivered.state) == ("ok_delivered", "DELIVERED")
        done = await rig.board.complete()
        assert (done.ok, done.state) == (True, "COMPLETED")

    run(go())
    updates = rig.recorder.updates
    assert [u.state for u in updates] == ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED", "COMPLETED"]
    assert [u.previous for u in updates] == [None, "ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED"]
    assert [u.step for u in updates] == [1, 2, 3, 4, 5, 6]
    assert all(p == "transactional" for _, _, p in rig.recorder.records)
    assert [s.data for s in updates[3].scans] == [f"{AWB}-001", f"{AWB}-002", "176-12345675-003"]
    assert updates[3].picked == 3 and updates[2].scans[0].data == "a 3 12 2"
    assert updates[1].driver == "D1024"
    assert rig.board.tasks() == [] and rig.board.active is None  # a completed task leaves the list
    assert rig.board.unsent() == 0


def test_sscc_piece_labels_are_matched_by_gs1_check(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign(awb=None, piece_labels=SSCCS)
        await rig.board.accept("T-1")
        await rig.board.scan("A-03-12-2")
        r1 = await rig.board.scan("]C100" + SSCCS[1])  # GS1-128 with its AIM prefix
        r2 = await rig.board.scan("(00)" + SSCCS[0])  # as printed under the bars
        r3 = await rig.board.scan(SSCCS[2])
        return r1, r2, r3

    r1, r2, r3 = run(go())
    assert (r1.ok, r2.ok, r3.ok, r3.state) == (True, True, True, "PICKED")
    assert rig.board.active.picked == (f"sscc:{SSCCS[1]}", f"sscc:{SSCCS[0]}", f"sscc:{SSCCS[2]}")


def test_bare_awb_labels_count_pieces_up_to_the_task_count(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign(pieces=2)
        await rig.board.accept("T-1")
        await rig.board.scan("A-03-12-2")
        one = await rig.board.scan(AWB)
        two = await rig.board.scan(AWB)
        return one, two

    one, two = run(go())
    assert (one.code, two.code, two.state, two.picked) == ("ok_piece", "ok_picked", "PICKED", 2)


def test_every_refused_scan_is_kept_as_evidence_and_sent_with_the_next_update(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign()
        await rig.board.accept("T-1")
        wrong = await rig.board.scan("B-01-01-1")
        assert (wrong.ok, wrong.code, wrong.state) == (False, "wrong_location", "ACCEPTED")
        assert wrong.message_zh == "库位错误，不是本任务的取货库位" and wrong.message_en.startswith("Wrong location")
        await rig.board.scan("A-03-12-2")
        return await rig.board.scan(f"{AWB}-009")

    refused = run(go())
    assert (refused.ok, refused.code, refused.state, refused.picked) == (False, "wrong_piece", "AT_SOURCE", 0)
    at_source = rig.recorder.updates[-1]
    assert at_source.state == "AT_SOURCE"
    assert [(s.data, s.accepted, s.reason) for s in at_source.scans] == [
        ("B-01-01-1", False, "wrong_location"), ("A-03-12-2", True, "")]
    assert rig.board.counters["refused:wrong_location"] == 1
    assert [(s.data, s.reason) for s in rig.board._store.task("T-1").evidence] == [(f"{AWB}-009", "wrong_piece")]


def test_exception_with_a_reason_ends_the_drivers_work(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign()
        await rig.board.accept("T-1")
        await rig.board.scan("A-03-12-2")
        await rig.board.scan(f"{AWB}-001")
        no_text = await rig.board.report_exception("other")
        unknown = await rig.board.report_exception("lost_it")
        done = await rig.board.report_exception("piece_missing", "只找到1件")
        after = await rig.board.scan(f"{AWB}-002")
        return no_text, unknown, done, after

    no_text, unknown, done, after = run(go())
    assert (no_text.code, unknown.code) == ("bad_reason", "bad_reason")
    assert (done.ok, done.state) == (True, "EXCEPTION")
    assert after.code == "no_active_task"
    last = rig.recorder.updates[-1]
    assert (last.state, last.previous, last.exception, last.note, last.picked) == (
        "EXCEPTION", "AT_SOURCE", "piece_missing", "只找到1件", 1)
    assert [v.state for v in rig.board.tasks()] == ["EXCEPTION"]  # stays listed until the platform acts


def test_exception_can_be_reported_on_an_assigned_task_by_id(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign()
        return await rig.board.report_exception("wrong_location", task_id="T-1")

    assert run(go()).state == "EXCEPTION"


def test_complete_only_after_delivery(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign()
        await rig.board.accept("T-1")
        return await rig.board.complete()

    result = run(go())
    assert (result.ok, result.code, result.state) == (False, "wrong_state", "ACCEPTED")
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED"]


def test_list_order_overdue_then_priority_then_due_by(rig: Rig):
    async def go():
        await rig.login()
        now = rig.clock.now()
        await rig.assign(task_id="late-p9", priority=9, due_by=now + timedelta(minutes=10))
        await rig.assign(task_id="p1-later", priority=1, due_by=now + timedelta(hours=3))
        await rig.assign(task_id="p1-sooner", priority=1, due_by=now + timedelta(hours=2))
        await rig.assign(task_id="p5", priority=5, due_by=now + timedelta(minutes=30))
        await rig.assign(task_id="late-p5", priority=5, due_by=now + timedelta(minutes=20))

    run(go())
    assert [v.task_id for v in rig.board.tasks()] == ["p1-sooner", "p1-later", "late-p5", "p5", "late-p9"]
    rig.clock.advance(25 * 60)  # two are overdue now
    views = rig.board.tasks()
    assert [v.task_id for v in views] == ["late-p5", "late-p9", "p1-sooner", "p1-later", "p5"]
    assert [v.overdue for v in views] == [True, True, False, False, False]


def test_tasks_for_another_driver_are_kept_but_not_shown(rig: Rig):
    async def go():
        await rig.assign(task_id="mine", driver="D1024")
        await rig.assign(task_id="theirs", driver="D2048")
        await rig.assign(task_id="anyone")
        assert rig.board.tasks() == []  # nobody logged in
        await rig.login()
        mine = [v.task_id for v in rig.board.tasks()]
        refused = await rig.board.accept("theirs")
        await rig.board.login("D2048", "2222")
        return mine, refused, [v.task_id for v in rig.board.tasks()]

    mine, refused, theirs = run(go())
    assert sorted(mine) == ["anyone", "mine"] and refused.code == "not_your_task"
    assert sorted(theirs) == ["anyone", "theirs"]


def test_observers_hear_every_change_and_a_failing_one_does_not_stop_the_board(rig: Rig):
    heard = []

    def broken(change):
        raise RuntimeError("screen bug")

    rig.board.subscribe(broken)
    unsubscribe = rig.board.subscribe(heard.append)

    async def go():
        await rig.login()
        await rig.assign()
        await rig.board.accept("T-1")
        unsubscribe()
        await rig.board.scan("A-03-12-2")

    run(go())
    assert [(c.task_id, c.state) for c in heard] == [(None, None), ("T-1", "ASSIGNED"), ("T-1", "ACCEPTED")]
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED", "AT_SOURCE"]


def test_select_switches_the_task_scans_apply_to(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign(task_id="T-1")
        await rig.assign(task_id="T-2", source_location="C-01-02-3")
        await rig.board.accept("T-1")
        await rig.board.accept("T-2")  # the last accepted is active
        to_t1 = rig.board.select("T-1")
        at = await rig.board.scan("A-03-12-2")
        return to_t1, at

    to_t1, at = run(go())
    assert to_t1.code == "ok_selected" and (at.task_id, at.state) == ("T-1", "AT_SOURCE")


def test_nothing_works_without_a_driver(rig: Rig):
    async def go():
        await rig.assign()
        return await rig.board.scan("A-03-12-2"), await rig.board.accept("T-1")

    scan, accept = run(go())
    assert (scan.code, accept.code) == ("not_logged_in", "not_logged_in")
    assert rig.recorder.states() == ["ASSIGNED"]
