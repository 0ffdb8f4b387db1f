"""A transition is one commit of the task store: the task row, its update and the session's
active task together, and the board tells its observers only once that commit is on disk (read
back here through a connection of its own). An update handed to the outbox is no longer
pending at once; its row's delete is queued, not waited for."""

from __future__ import annotations

import asyncio
import sqlite3

from agent.tasks.views import BoardChange

from .fakes import Rig


def _on_disk(rig: Rig) -> tuple[list[tuple[str, str]], int, str | None]:
    conn = sqlite3.connect(rig.path)
    try:
        tasks = conn.execute("SELECT task_id, state FROM task ORDER BY task_id").fetchall()
        pending = conn.execute("SELECT count(*) FROM pending").fetchone()[0]
        active = conn.execute("SELECT active FROM session").fetchone()[0]
        return tasks, pending, active
    finally:
        conn.close()


def test_an_accept_is_one_commit_and_shown_only_once_committed(rig: Rig):
    seen: list[tuple[BoardChange, tuple, int]] = []

    async def main() -> int:
        await rig.login()
        await rig.assign()
        rig.board.subscribe(lambda change: seen.append((change, _on_disk(rig), len(rig.recorder.updates))))
        books = rig.board._store.db._books
        before = books.commits
        await rig.board.accept("T-1")  # ACCEPTED: the task, its update and "active = T-1"
        return books.commits - before

    commits = asyncio.run(main())
    (change, (tasks, pending, active), recorded), = seen
    assert change.task_id == "T-1" and change.state == "ACCEPTED"
    # on disk when shown: the new state, its update waiting, the active task; not yet recorded
    assert tasks == [("T-1", "ACCEPTED")] and pending >= 1 and active == "T-1"
    assert recorded == 1  # only the ASSIGNED update had gone to the outbox by then
    # the transition's one commit, and at most the queued delete of what went to the outbox
    assert 1 <= commits <= 2
    assert rig.recorder.states("T-1") == ["ASSIGNED", "ACCEPTED"]


def test_a_recorded_update_is_not_pending_and_its_row_goes_after(rig: Rig):
    async def main() -> None:
        await rig.login()
        await rig.assign()
        await rig.board.accept("T-1")
        assert rig.board.unsent() == 0  # handed to the outbox: not pending, before its delete commits
        assert rig.board._store.pending() == []

    asyncio.run(main())
    board = rig.reboot()  # close() lets the queued deletes commit
    assert _on_disk(rig)[1] == 0
    asyncio.run(board.start())
    assert rig.recorder.states("T-1") == ["ASSIGNED", "ACCEPTED"]  # nothing handed over twice


def test_an_update_the_outbox_refused_stays_pending_in_order(rig: Rig):
    async def main() -> None:
        await rig.login()
        await rig.assign()
        rig.recorder.full = True
        await rig.board.accept("T-1")
        await rig.board.scan("A-03-12-2")
        assert rig.board.unsent() == 2
        rig.recorder.full = False
        assert await rig.board.flush() == 0

    asyncio.run(main())
    assert rig.recorder.states("T-1") == ["ASSIGNED", "ACCEPTED", "AT_SOURCE"]
