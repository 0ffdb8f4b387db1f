"""The outbox's SQLite file: schema, pragmas, and what to do with a corrupt file.

Tables:
    outbox   one row per message waiting for a PUBACK; `seq` is per node, assigned at commit
    meta     key/value: the last seq handed out, drop counters, the link's last health
    answers  command id -> the response sent, so a duplicate command is answered, not re-run;
             kept `ANSWERS_KEPT_S` and carried over to the new file when one is moved aside

Opening, checking and moving a corrupt file aside are agent.storage's (shared with the gate
and task stores); this module adds what is the outbox's own: the seq a moved-aside file still
shows is carried over, so seq never goes back.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

from agent import storage

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """An outbox class, by the index stored in each row's `prio` (append only: files keep their rows)."""

    CONTROL = 0
    TRANSACTIONAL = 1
    TELEMETRY = 2
    ANSWERS = 3


#: the classes' names, in index order, as config and `portedge status` spell them
PRIORITIES: tuple[str, ...] = tuple(p.name.lower() for p in Priority)
PRIORITY_INDEX: dict[str, Priority] = {p.name.lower(): p for p in Priority}
#: the order the link sends classes in: a command's answer right after the node's own state
PUBLISH_ORDER: tuple[int, ...] = (0, 3, 1, 2)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the link tracks rows in flight by rid
    msg_id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    prio INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    topic TEXT,
    type TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    correlation_id TEXT,
    reply_to TEXT
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (prio, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS answers (
    cmd_id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_at ON answers (at);
"""

def connect(path: Path, synchronous: str = "FULL", *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection with the outbox pragmas (agent.storage), waiting up to 30 s on a lock."""
    return storage.connect(path, synchronous, check_same_thread=check_same_thread, busy_timeout_s=30.0)


def salvage_seq(damaged: Path) -> int:
    """The highest seq a damaged outbox file still shows (its meta, or its rows), or 0."""
    best = 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{damaged}?mode=ro", uri=True, timeout=1)) as db:
            for sql in ("SELECT value FROM meta WHERE key = 'seq'", "SELECT MAX(seq) FROM outbox"):
                try:
                    row = db.execute(sql).fetchone()
                    if row and row[0] is not None:
                        best = max(best, int(row[0]))
                except (sqlite3.DatabaseError, ValueError):
                    continue
    except sqlite3.DatabaseError:
        pass
    if best == 0:
        log.error("no seq could be read from %s: the node's seq starts again at 1", damaged)
    return best


ANSWERS_KEPT_S = 86400.0  # a command's stored answer outlives any command it can answer (see CommandsSection)


def carry_answers(damaged: Path, conn: sqlite3.Connection, now: datetime) -> bool:
    """Copy the stored command answers of the last `ANSWERS_KEPT_S` from a damaged outbox file
    into the new one, so a command that ran before the move is answered again, not re-run.
    False when they could not all be read (the caller then marks when they were lost)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{damaged}?mode=ro", uri=True, timeout=1)) as db:
            rows = db.execute("SELECT cmd_id, topic, payload, at FROM answers WHERE at >= ?",
                              (now.timestamp() - ANSWERS_KEPT_S,)).fetchall()
    except sqlite3.DatabaseError as err:
        log.error("stored command answers could not be read from %s (%s): commands made before now are refused",
                  damaged, err)
        return False
    conn.executemany("INSERT OR IGNORE INTO answers (cmd_id, topic, payload, at) VALUES (?, ?, ?, ?)", rows)
    return True


def open_db(path: Path, synchronous: str = "FULL", now: datetime | None = None) -> tuple[sqlite3.Connection, Path | None]:
    """Open (or create) the outbox file. Returns the write connection and, when the file was
    corrupt, where it was moved to. Any other fault (permission, full disk) raises
    agent.storage.StorageError and leaves the file where it is, its rows and seq intact.
    The stored command answers go with the node to the new file; when they cannot, meta
    `answers_lost_at` says since when they are missing."""
    opened = storage.open_file(path, SCHEMA, what="outbox", synchronous=synchronous)
    conn, moved = opened.conn, opened.moved_to
    conn.execute("PRAGMA busy_timeout=30000")
    if moved is not None:
        last_seq = salvage_seq(moved)
        log.error("outbox starts again at seq %d after the corrupt file was moved aside", last_seq + 1)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('corrupt_moved_to', ?)", (str(moved),))
        # seq must never go back: the platform would take new records for ones it has seen
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('seq', ?)", (last_seq,))
        now = now or datetime.now(UTC)
        if not carry_answers(moved, conn, now):
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('answers_lost_at', ?)", (now.isoformat(),))
    return conn, moved


def stamp_seq(payload: bytes, seq: int) -> bytes:
    """Write the commit-time seq into a serialised Envelope/Response.

    Both wire models serialise `id`, `node`, `seq` first; JSON strings cannot contain an
    unescaped quote, so the first `"seq":0,` is the field itself. Serialising once, in the
    caller's thread, keeps the single writer thread free for SQLite.
    """
    marker = b'"seq":0,'
    at = payload.find(marker)
    if at < 0 or at > 1000:
        raise ValueError("payload has no seq placeholder near its start")
    return payload[:at] + b'"seq":%d,' % seq + payload[at + len(marker):]
