"""A PDA reboot (a new Board on the same SQLite file) keeps tasks, progress, the session and
updates not yet handed to the outbox; those go out first, in order, exactly once per run."""

from __future__ import annotations

import asyncio

from .fakes import AWB, Rig


def run(coro):
    return asyncio.run(coro)


def test_reboot_keeps_tasks_progress_session_and_active_task(rig: Rig):
    async def before():
        await rig.login()
        await rig.assign()
        await rig.assign(task_id="T-2", priority=9)
        await rig.board.accept("T-1")
        await rig.board.scan("A-03-12-2")
        await rig.board.scan(f"{AWB}-002")
        await rig.board.scan("X-99-99-9")  # refused evidence survives too

    run(before())
    board = rig.reboot()

    async def after():
        await board.start()
        dup = await board.scan(f"{AWB}-002")
        rest = [await board.scan(f"{AWB}-001"), await board.scan(f"{AWB}-003")]
        return dup, rest

    assert board.driver.badge == "D1024" and board.active.task_id == "T-1"
    assert [(v.task_id, v.state, v.picked_count) for v in board.tasks()] == [("T-1", "AT_SOURCE", 1), ("T-2", "ASSIGNED", 0)]
    dup, rest = run(after())
    assert dup.code == "duplicate_piece"  # the piece scanned before the reboot is remembered
    assert rest[-1].state == "PICKED"
    picked = rig.recorder.updates[-1]
    assert [(s.data, s.accepted) for s in picked.scans] == [
        (f"{AWB}-002", True), ("X-99-99-9", False), (f"{AWB}-002", False), (f"{AWB}-001", True), (f"{AWB}-003", True)]


def test_updates_the_outbox_refused_wait_and_go_out_in_order(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign()
        rig.recorder.full = True
        accepted = await rig.board.accept("T-1")
        at_source = await rig.board.scan("A-03-12-2")  # the driver is never held up by the outbox
        assert (accepted.ok, at_source.ok) == (True, True)
        assert rig.board.unsent() == 2 and rig.board.counters["record_failed"] == 2
        rig.recorder.full = False
        return await rig.board.flush()

    assert run(go()) == 0
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED", "AT_SOURCE"]
    assert [u.step for u in rig.recorder.updates] == [1, 2, 3]


def test_any_later_step_retries_the_waiting_updates_first(rig: Rig):
    async def go():
        await rig.login()
        await rig.assign()
        rig.recorder.full = True
        await rig.board.accept("T-1")
        rig.recorder.full = False
        await rig.board.scan("B-01-01-1")  # even a refused scan gives the outbox another try
        return rig.board.unsent()

    assert run(go()) == 0
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED"]


def test_unsent_updates_survive_a_reboot_and_are_replayed_on_start(rig: Rig):
    async def before():
        await rig.login()
        await rig.assign()
        rig.recorder.full = True
        await rig.board.accept("T-1")
        await rig.board.scan("A-03-12-2")

    run(before())
    assert rig.recorder.states() == ["ASSIGNED"]
    rig.recorder.full = False
    board = rig.reboot()
    run(board.start())
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED", "AT_SOURCE"]
    assert board.unsent() == 0
    board = rig.reboot()
    run(board.start())  # nothing replayed twice
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED", "AT_SOURCE"]


def test_logout_survives_a_reboot(rig: Rig):
    async def go():
        await rig.login()
        await rig.board.logout()

    run(go())
    assert rig.reboot().driver is None
