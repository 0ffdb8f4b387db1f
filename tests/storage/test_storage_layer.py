"""agent/storage.py on its own: writes off the loop, shared transactions that fail alone,
the configured synchronous, the transaction helper."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from agent import storage
from agent.tasks.store import TaskStore

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"


def test_writes_commit_on_the_writer_thread_never_the_loops(tmp_path):
    db = storage.Database(tmp_path / "s.db", SCHEMA, what="test")
    threads: list[int] = []

    def write(conn: sqlite3.Connection) -> int:
        threads.append(threading.get_ident())
        conn.execute("INSERT INTO t VALUES ('a', 1)")
        return 7

    async def scenario() -> int:
        result = await db.write(write)
        assert db.one("SELECT v FROM t WHERE k = 'a'") == (1,), "committed before the await returned"
        return result

    try:
        assert asyncio.run(scenario()) == 7
        assert threads and threads[0] != threading.get_ident()
    finally:
        db.close()


def test_writes_queued_together_share_a_transaction_and_a_bad_one_fails_alone(tmp_path):
    db = storage.Database(tmp_path / "s.db", SCHEMA, what="test")

    async def scenario() -> list:
        writes = [db.write(lambda c, n=n: c.execute("INSERT INTO t VALUES (?, ?)", (f"k{n}", n))) for n in range(5)]
        bad = db.write(lambda c: c.execute("INSERT INTO t VALUES ('k1', NULL)"))  # NOT NULL and a clash
        return await asyncio.gather(*writes, bad, return_exceptions=True)

    try:
        results = asyncio.run(scenario())
        assert all(not isinstance(r, BaseException) for r in results[:5])
        assert isinstance(results[5], sqlite3.IntegrityError)
        assert db.one("SELECT count(*) FROM t") == (5,)
        assert db.reasons() == [], "a refused write is the caller's error, not a storage fault"
    finally:
        db.close()


def test_the_task_store_honours_the_configured_synchronous(tmp_path):
    store = TaskStore(tmp_path / "tasks.db", synchronous="NORMAL")
    try:
        level = asyncio.run(store.db.write(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]))
        assert level == 1, "NORMAL is 1; the task store used to force FULL (2)"
    finally:
        store.close()


def test_transaction_rolls_back_on_error(tmp_path):
    conn = storage.connect(tmp_path / "s.db")
    conn.executescript(SCHEMA)
    with pytest.raises(ValueError), storage.transaction(conn):
        conn.execute("INSERT INTO t VALUES ('x', 1)")
        raise ValueError("a bug half way")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert not conn.in_transaction
    conn.close()


def test_a_folder_that_cannot_be_made_is_not_permitted_or_gone_not_corrupt(tmp_path):
    blocker = tmp_path / "var"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(storage.StorageError) as caught:
        storage.open_file(blocker / "o.db", SCHEMA, what="test")
    assert caught.value.fault is not storage.Fault.CORRUPT
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_a_caller_that_stops_waiting_does_not_kill_the_writer(tmp_path):
    """Found under load: at shutdown a write's awaiting task was cancelled, the writer thread
    then answered the cancelled future, died of InvalidStateError and printed a traceback."""
    db = storage.Database(tmp_path / "s.db", SCHEMA, what="test")
    gate = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        gate.wait(10)
        conn.execute("INSERT INTO t VALUES ('slow', 1)")

    async def scenario() -> None:
        task = asyncio.ensure_future(db.write(slow))
        await asyncio.sleep(0.05)
        task.cancel()  # the caller gives up while its write is being committed
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        # the writer lives: the next write is answered (a dead writer never would)
        await asyncio.wait_for(db.write(lambda conn: conn.execute("INSERT INTO t VALUES ('next', 2)")), 10)

    try:
        asyncio.run(scenario())
        assert db.one("SELECT count(*) FROM t") == (2,)  # the abandoned write was committed all the same
    finally:
        db.close()
