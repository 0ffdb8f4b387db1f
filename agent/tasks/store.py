"""SQLite persistence of the task board: tasks, their progress, updates not yet handed to the
outbox, the driver session and the offline login cache.

Everything a PDA reboot must keep is here; the board holds no state that is not. Each public
write is one transaction (WAL, the node's `[storage] synchronous`) so a crash leaves either
the old or the new state, never half of a transition: a transition's task row, its update and
the session's active task are one commit (`save`), the only fsync before the board may show it.
An update handed to the outbox is marked sent at once (`mark_sent`: `pending` no longer lists
it) and its row deleted by a queued write that nobody waits for; a crash before that delete
commits hands the update over again after the restart (the same task_id and step: the
platform drops the repeat), as a crash between the outbox commit and the delete always could. Writes are awaited commits on the
store's writer thread (agent.storage.Books): on the PDA the asyncio loop is also Kivy's UI
loop, and an eMMC fsync of 10-30 ms there is a lost frame. Reads run on the loop. The driver
session row is mirrored in memory (it is read on every scan and written only here).

It must never hold a PIN in clear, and never decide anything: the board decides, the store
remembers.
"""

from __future__ import annotations

import concurrent.futures
import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from agent.contract.tasks import ScanEvidence, Task, TaskUpdate
from agent.storage import Database
from agent.tasks.table import State

SCHEMA = """
CREATE TABLE IF NOT EXISTS task (
    task_id   TEXT PRIMARY KEY,
    body      TEXT NOT NULL,            -- the platform's Task, JSON
    state     TEXT NOT NULL,
    step      INTEGER NOT NULL,         -- transitions so far (TaskUpdate.step of the last one)
    picked    TEXT NOT NULL,            -- JSON list of piece keys, scan order
    evidence  TEXT NOT NULL,            -- JSON list of ScanEvidence since the last update
    exception TEXT,
    note      TEXT NOT NULL DEFAULT '',
    seen_at   TEXT NOT NULL             -- first assigned here (ISO, UTC)
);
CREATE TABLE IF NOT EXISTS pending (
    n         INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order = recording order
    body      TEXT NOT NULL                       -- TaskUpdate, JSON
);
CREATE TABLE IF NOT EXISTS driver_cache (
    badge       TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    salt        BLOB NOT NULL,
    hash        BLOB NOT NULL,
    scheme      TEXT NOT NULL,          -- e.g. scrypt:16384:8:1
    verified_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS session (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    badge   TEXT,
    name    TEXT,
    since   TEXT,
    offline INTEGER NOT NULL DEFAULT 0,
    active  TEXT                        -- task id scans apply to
);
INSERT OR IGNORE INTO session (one) VALUES (1);
"""


@dataclass(slots=True)
class TaskRow:
    task: Task
    state: State
    step: int
    picked: list[str]
    evidence: list[ScanEvidence]
    exception: str | None
    note: str
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class CachedDriver:
    badge: str
    name: str
    salt: bytes
    hash: bytes
    scheme: str
    verified_at: datetime
    expires_at: datetime
    failures: int


@dataclass(frozen=True, slots=True)
class Session:
    """The session row: who is logged in (badge None: nobody), since when, whether the PIN
    was checked offline, and the task id scans apply to."""

    badge: str | None = None
    name: str | None = None
    since: datetime | None = None
    offline: bool = False
    active: str | None = None


class Keep:
    """`save(active=KEEP)`: the session's active task stays as it is."""


KEEP = Keep()


class TaskStore:
    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.db = Database(path, SCHEMA, what="tasks", synchronous=synchronous)
        badge, name, since, offline, active = self.db.one("SELECT badge, name, since, offline, active FROM session")
        self._session = Session(badge, name, datetime.fromisoformat(since) if since else None, bool(offline), active)
        self._sent_upto = 0  # pending rows up to this n are in the outbox; their delete is queued

    def close(self) -> None:
        self.db.close()

    def reasons(self) -> list[str]:
        return self.db.reasons()

    # -- tasks -------------------------------------------------------------------------------
    def tasks(self) -> list[TaskRow]:
        rows = self.db.query("SELECT body, state, step, picked, evidence, exception, note, seen_at FROM task")
        return [self._row(r) for r in rows]

    def task(self, task_id: str) -> TaskRow | None:
        r = self.db.one("SELECT body, state, step, picked, evidence, exception, note, seen_at FROM task WHERE task_id=?",
                        (task_id,))
        return self._row(r) if r else None

    @staticmethod
    def _row(r: tuple) -> TaskRow:
        return TaskRow(
            task=Task.model_validate_json(r[0]), state=State(r[1]), step=r[2], picked=json.loads(r[3]),
            evidence=[ScanEvidence.model_validate(e) for e in json.loads(r[4])],
            exception=r[5], note=r[6], seen_at=datetime.fromisoformat(r[7]))

    async def save(self, row: TaskRow, update: TaskUpdate | None = None, *, active: str | None | Keep = KEEP) -> None:
        """Write the task row, (if given) queue its update and (unless KEEP) set the session's
        active task, in one transaction."""
        values = (row.task.task_id, row.task.model_dump_json(), row.state.value, row.step, json.dumps(row.picked),
                  json.dumps([e.model_dump(mode="json") for e in row.evidence]), row.exception, row.note,
                  row.seen_at.isoformat())
        body = update.model_dump_json() if update is not None else None

        def write(conn) -> None:
            conn.execute("INSERT OR REPLACE INTO task (task_id, body, state, step, picked, evidence, exception, note,"
                         " seen_at) VALUES (?,?,?,?,?,?,?,?,?)", values)
            if body is not None:
                conn.execute("INSERT INTO pending (body) VALUES (?)", (body,))
            if not isinstance(active, Keep):
                conn.execute("UPDATE session SET active=?", (active,))

        await self.db.write(write)
        if not isinstance(active, Keep):
            self._session = replace(self._session, active=active)

    # -- unsent updates ----------------------------------------------------------------------
    def pending(self) -> list[tuple[int, TaskUpdate]]:
        """Updates not yet handed to the outbox, in commit order."""
        rows = self.db.query("SELECT n, body FROM pending WHERE n > ? ORDER BY n", (self._sent_upto,))
        return [(n, TaskUpdate.model_validate_json(body)) for n, body in rows]

    def pending_count(self) -> int:
        return self.db.one("SELECT count(*) FROM pending WHERE n > ?", (self._sent_upto,))[0]

    def mark_sent(self, n: int) -> concurrent.futures.Future:
        """The update `n` is committed to the outbox: not pending any more; its row's delete
        commits in order with the next writes, and no caller waits for that fsync."""
        self._sent_upto = max(self._sent_upto, n)
        return self.db.write_soon(lambda c: c.execute("DELETE FROM pending WHERE n <= ?", (n,)))

    # -- session -----------------------------------------------------------------------------
    def session(self) -> Session:
        return self._session

    @property
    def active(self) -> str | None:
        return self._session.active

    async def set_session(self, badge: str | None, name: str | None, since: datetime | None, offline: bool) -> None:
        self._session = replace(self._session, badge=badge, name=name, since=since, offline=offline)
        values = (badge, name, since.isoformat() if since else None, int(offline))
        await self.db.write(lambda c: c.execute("UPDATE session SET badge=?, name=?, since=?, offline=?", values))

    async def set_active(self, task_id: str | None) -> None:
        self._session = replace(self._session, active=task_id)
        await self.db.write(lambda c: c.execute("UPDATE session SET active=?", (task_id,)))

    def set_active_soon(self, task_id: str | None) -> concurrent.futures.Future:
        """For callers that cannot await (`Board.select`): the mirror changes now, the row
        commits in order with every other write."""
        self._session = replace(self._session, active=task_id)
        return self.db.write_soon(lambda c: c.execute("UPDATE session SET active=?", (task_id,)))

    # -- offline login cache -----------------------------------------------------------------
    def cached_driver(self, badge: str) -> CachedDriver | None:
        r = self.db.one(
            "SELECT badge, name, salt, hash, scheme, verified_at, expires_at, failures FROM driver_cache WHERE badge=?",
            (badge,))
        if r is None:
            return None
        return CachedDriver(r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]),
                            datetime.fromisoformat(r[6]), r[7])

    async def cache_driver(self, d: CachedDriver) -> None:
        values = (d.badge, d.name, d.salt, d.hash, d.scheme, d.verified_at.isoformat(), d.expires_at.isoformat(),
                  d.failures)
        await self.db.write(lambda c: c.execute("INSERT OR REPLACE INTO driver_cache VALUES (?,?,?,?,?,?,?,?)", values))

    async def forget_driver(self, badge: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM driver_cache WHERE badge=?", (badge,)))

    async def count_failure(self, badge: str) -> int:
        def write(conn) -> int:
            conn.execute("UPDATE driver_cache SET failures = failures + 1 WHERE badge=?", (badge,))
            r = conn.execute("SELECT failures FROM driver_cache WHERE badge=?", (badge,)).fetchone()
            return r[0] if r else 0

        return await self.db.write(write)

