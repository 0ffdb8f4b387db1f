"""task_assign / task_cancel from the platform: idempotent, refused with a reason, and a
withdrawn task leaves the driver's list with a notice even mid-way."""

from __future__ import annotations

import asyncio

import pytest

from agent.contract.tasks import Task
from agent.errors import InvalidCommandError

from .fakes import AWB, SSCCS, Rig, command, make_task


def run(coro):
    return asyncio.run(coro)


async def _midway(rig: Rig) -> None:
    await rig.login()
    await rig.assign()
    await rig.board.accept("T-1")
    await rig.board.scan("A-03-12-2")
    await rig.board.scan(f"{AWB}-001")


@pytest.mark.parametrize("reason, state, notice", [
    ("cancelled", "CANCELLED", "notice_cancelled"), ("reassigned", "REASSIGNED", "notice_reassigned")])
def test_withdrawn_mid_way_leaves_the_list_with_a_notice(rig: Rig, reason, state, notice):
    async def go():
        await _midway(rig)
        rig.board.take_notices()
        await rig.cancel("T-1", reason, note="customs released it")
        return await rig.board.scan(f"{AWB}-002")

    after = run(go())
    assert rig.board.tasks() == [] and rig.board.active is None
    assert after.code == "no_active_task"  # the next scan no longer goes to the withdrawn task
    notices = rig.board.take_notices()
    assert [(n.task_id, n.code, n.note) for n in notices] == [("T-1", notice, "customs released it")]
    assert notices[0].message_zh and notices[0].message_en
    assert rig.board.take_notices() == []  # each notice once
    last = rig.recorder.updates[-1]
    assert (last.state, last.previous, last.picked, last.note) == (state, "AT_SOURCE", 1, "customs released it")
    assert rig.board.task("T-1").state == state


def test_a_withdrawn_task_may_come_back_and_starts_over(rig: Rig):
    async def go():
        await _midway(rig)
        await rig.cancel("T-1", "reassigned")
        await rig.assign()
        return rig.board.tasks()

    views = run(go())
    assert [(v.task_id, v.state, v.picked) for v in views] == [("T-1", "ASSIGNED", ())]
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "REASSIGNED", "ASSIGNED"]
    assert [u.step for u in rig.recorder.updates] == [1, 2, 3, 4, 5]  # (task_id, step) stays unique


def test_the_same_assignment_twice_is_one_task_and_one_update(rig: Rig):
    async def go():
        await rig.login()
        task = await rig.assign()
        await rig.assign(Task.model_validate(task.model_dump(mode="json")))  # as redelivered over the wire
        await rig.board.accept("T-1")
        await rig.assign(task)  # even mid-way

    run(go())
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED"]
    assert [(v.task_id, v.state) for v in rig.board.tasks()] == [("T-1", "ACCEPTED")]


def test_the_same_id_with_other_content_is_refused(rig: Rig):
    async def go():
        await rig.assign()
        with pytest.raises(InvalidCommandError) as refused:
            await rig.assign(make_task(rig.clock, destination="BAY-09"))
        return refused.value

    err = run(go())
    assert err.code == "refused" and "T-1" in err.reason
    assert rig.board.task("T-1").task.destination == "BAY-07"


@pytest.mark.parametrize("fields, why", [
    (dict(awb=None), "air waybill or piece labels"),
    (dict(awb="17612345670"), "check digit"),
    (dict(awb="176-12345675"), "11 digits"),
    (dict(piece_labels=SSCCS[:2]), "2 piece labels for 3 pieces"),
    (dict(piece_labels=[SSCCS[0], SSCCS[0], SSCCS[1]]), "repeat"),
    (dict(piece_labels=[SSCCS[0], SSCCS[1], "376123450000000031"]), "unreadable"),
])
def test_tasks_that_could_never_be_completed_are_refused(rig: Rig, fields, why):
    async def go():
        with pytest.raises(InvalidCommandError) as refused:
            await rig.assign(**fields)
        return refused.value

    err = run(go())
    assert err.code == "invalid_schema" and why in err.reason
    assert rig.board.task("T-1") is None and rig.recorder.updates == []


def test_a_body_that_is_not_a_task_is_refused_as_invalid_schema(rig: Rig):
    async def go():
        bad = command("task_assign", make_task(rig.clock), rig.clock).model_copy(update={"body": {"task_id": "x"}})
        with pytest.raises(InvalidCommandError) as refused:
            await rig.board.on_task_assign(bad)
        return refused.value

    assert run(go()).code == "invalid_schema"


def test_cancel_refusals_and_repeats(rig: Rig):
    async def go():
        with pytest.raises(InvalidCommandError) as unknown:
            await rig.cancel("nope")
        await rig.login()
        await rig.assign(pieces=1)
        await rig.cancel("T-1")
        await rig.cancel("T-1")  # repeated delivery: no second update
        await rig.assign(task_id="T-2", pieces=1)
        await rig.board.accept("T-2")
        await rig.board.scan("A-03-12-2")
        await rig.board.scan(f"{AWB}-001")
        await rig.board.scan("BAY-07")
        await rig.board.complete()
        with pytest.raises(InvalidCommandError) as completed:
            await rig.cancel("T-2")
        return unknown.value, completed.value

    unknown, completed = run(go())
    assert unknown.code == "refused" and "no task" in unknown.reason
    assert completed.code == "refused" and "completed" in completed.reason
    assert rig.recorder.states("T-1") == ["ASSIGNED", "CANCELLED"]
    assert rig.recorder.states("T-2")[-1] == "COMPLETED"
    assert rig.board.counters["refused:task_cancel"] == 2


def test_a_new_task_for_the_driver_comes_with_a_notice(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign(task_id="for-me", driver="D1024")
        await rig.assign(task_id="for-other", driver="D2048")

    run(go())
    assert [(n.task_id, n.code) for n in rig.board.take_notices()] == [("for-me", "notice_assigned")]


def test_handlers_are_exposed_for_the_link(rig: Rig):
    handlers = rig.board.command_handlers()
    assert set(handlers) == {"task_assign", "task_cancel"}
    run(handlers["task_assign"](command("task_assign", make_task(rig.clock), rig.clock)))
    assert rig.board.task("T-1").state == "ASSIGNED"
