"""SQLite persistence of the task board: tasks, their progress, updates not yet handed to the
outbox, the driver session and the offline login cache.

Everything a PDA reboot must keep is here; the board holds no state that is not. Each public
write is one transaction (WAL, synchronous FULL) so a crash leaves either the old or the new
state, never half of a transition. It must never hold a PIN in clear, and never decide
anything: the board decides, the store remembers.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent.contract.tasks import ScanEvidence, Task, TaskUpdate

_SCHEMA = """
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
    state: str
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


class TaskStore:
    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- tasks -------------------------------------------------------------------------------
    def tasks(self) -> list[TaskRow]:
        rows = self._db.execute(
            "SELECT body, state, step, picked, evidence, exception, note, seen_at FROM task").fetchall()
        return [self._row(r) for r in rows]

    def task(self, task_id: str) -> TaskRow | None:
        r = self._db.execute(
            "SELECT body, state, step, picked, evidence, exception, note, seen_at FROM task WHERE task_id=?",
            (task_id,)).fetchone()
        return self._row(r) if r else None

    @staticmethod
    def _row(r: tuple) -> TaskRow:
        return TaskRow(
            task=Task.model_validate_json(r[0]), state=r[1], step=r[2], picked=json.loads(r[3]),
            evidence=[ScanEvidence.model_validate(e) for e in json.loads(r[4])],
            exception=r[5], note=r[6], seen_at=datetime.fromisoformat(r[7]))

    def save(self, row: TaskRow, update: TaskUpdate | None = None) -> None:
        """Write the task row and (if given) queue its update, in one transaction."""
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO task (task_id, body, state, step, picked, evidence, exception, note, seen_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (row.task.task_id, row.task.model_dump_json(), row.state, row.step, json.dumps(row.picked),
                 json.dumps([e.model_dump(mode="json") for e in row.evidence]), row.exception, row.note,
                 row.seen_at.isoformat()))
            if update is not None:
                self._db.execute("INSERT INTO pending (body) VALUES (?)", (update.model_dump_json(),))

    # -- unsent updates ----------------------------------------------------------------------
    def pending(self) -> list[tuple[int, TaskUpdate]]:
        rows = self._db.execute("SELECT n, body FROM pending ORDER BY n").fetchall()
        return [(n, TaskUpdate.model_validate_json(body)) for n, body in rows]

    def pending_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM pending").fetchone()[0]

    def sent(self, n: int) -> None:
        with self._tx():
            self._db.execute("DELETE FROM pending WHERE n=?", (n,))

    # -- session -----------------------------------------------------------------------------
    def session(self) -> tuple[str | None, str | None, datetime | None, bool, str | None]:
        badge, name, since, offline, active = self._db.execute(
            "SELECT badge, name, since, offline, active FROM session").fetchone()
        return badge, name, datetime.fromisoformat(since) if since else None, bool(offline), active

    def set_session(self, badge: str | None, name: str | None, since: datetime | None, offline: bool) -> None:
        with self._tx():
            self._db.execute("UPDATE session SET badge=?, name=?, since=?, offline=?",
                             (badge, name, since.isoformat() if since else None, int(offline)))

    def set_active(self, task_id: str | None) -> None:
        with self._tx():
            self._db.execute("UPDATE session SET active=?", (task_id,))

    # -- offline login cache -----------------------------------------------------------------
    def cached_driver(self, badge: str) -> CachedDriver | None:
        r = self._db.execute(
            "SELECT badge, name, salt, hash, scheme, verified_at, expires_at, failures FROM driver_cache WHERE badge=?",
            (badge,)).fetchone()
        if r is None:
            return None
        return CachedDriver(r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]),
                            datetime.fromisoformat(r[6]), r[7])

    def cache_driver(self, d: CachedDriver) -> None:
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO driver_cache VALUES (?,?,?,?,?,?,?,?)",
                (d.badge, d.name, d.salt, d.hash, d.scheme, d.verified_at.isoformat(), d.expires_at.isoformat(),
                 d.failures))

    def forget_driver(self, badge: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM driver_cache WHERE badge=?", (badge,))

    def count_failure(self, badge: str) -> int:
        with self._tx():
            self._db.execute("UPDATE driver_cache SET failures = failures + 1 WHERE badge=?", (badge,))
        r = self._db.execute("SELECT failures FROM driver_cache WHERE badge=?", (badge,)).fetchone()
        return r[0] if r else 0

    def _tx(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (sqlite3's own context manager does not BEGIN
    in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
