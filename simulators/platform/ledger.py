"""The platform simulator's ledger: everything received, deduplicated by message id.

It is the oracle of the end-to-end tests: "was every record delivered exactly once after
dedupe, in order, with no unexplained seq gap?" Gaps are explained only by telemetry drops
the node itself reported (its health counters), never silently.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    id          TEXT PRIMARY KEY,
    node        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    topic       TEXT NOT NULL,
    body        TEXT NOT NULL,
    first_at    REAL NOT NULL,
    sent_at     REAL,
    copies      INTEGER NOT NULL DEFAULT 1,
    consumer    TEXT
);
CREATE INDEX IF NOT EXISTS received_node_seq ON received(node, seq);
CREATE INDEX IF NOT EXISTS received_type ON received(type);
"""


def _epoch(ts: object) -> float | None:
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class NodeAudit:
    node: str
    records: int
    duplicates: int
    first_seq: int
    last_seq: int
    gaps: list[int]


class Ledger:
    """Thread-safe; writes from the MQTT thread, reads from tests and reports."""

    def __init__(self, path: str | Path = ":memory:", consumer: str | None = None):
        """`consumer` names who records here: members of a share group write one file (each its
        own Ledger on it) and the first to record an id is kept as the one that processed it."""
        self.consumer = consumer
        # several processes may share the file: wait for each other's writes instead of failing
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def add(self, envelope: dict, topic: str, at: float) -> bool:
        """Record one message; returns False when its id was already there (a duplicate)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO received (id, node, seq, type, topic, body, first_at, sent_at, consumer)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (envelope["id"], envelope["node"], int(envelope.get("seq") or 0), envelope["type"], topic,
                 json.dumps(envelope.get("body"), ensure_ascii=False), at, _epoch(envelope.get("ts")), self.consumer),
            )
            if cur.rowcount == 0:
                self._db.execute("UPDATE received SET copies = copies + 1 WHERE id = ?", (envelope["id"],))
                return False
            return True

    def count(self, type_: str | None = None, node: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM received WHERE 1=1", []
        if type_:
            sql, args = sql + " AND type = ?", [*args, type_]
        if node:
            sql, args = sql + " AND node = ?", [*args, node]
        with self._lock:
            return self._db.execute(sql, args).fetchone()[0]

    def bodies(self, type_: str, node: str | None = None) -> list[dict]:
        sql, args = "SELECT body FROM received WHERE type = ?", [type_]
        if node:
            sql, args = sql + " AND node = ?", [*args, node]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY node, seq", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def latest(self, type_: str, node: str) -> dict | None:
        """The body of the newest record of a type from a node (e.g. its last heartbeat)."""
        with self._lock:
            row = self._db.execute("SELECT body FROM received WHERE type = ? AND node = ? ORDER BY seq DESC LIMIT 1",
                                   (type_, node)).fetchone()
        return json.loads(row[0]) if row else None

    def last_heard(self, node: str) -> float | None:
        """When (epoch s, receipt here) the newest heartbeat from `node` first arrived."""
        with self._lock:
            row = self._db.execute("SELECT MAX(first_at) FROM received WHERE node = ? AND type = 'heartbeat'",
                                   (node,)).fetchone()
        return row[0] if row else None

    def by_consumer(self) -> dict[str, int]:
        """Records each member of a share group processed (recorded first)."""
        with self._lock:
            return dict(self._db.execute("SELECT COALESCE(consumer, ''), COUNT(*) FROM received GROUP BY consumer"))

    def ids(self, type_: str | None = None) -> set[str]:
        sql, args = "SELECT id FROM received", []
        if type_:
            sql, args = sql + " WHERE type = ?", [type_]
        with self._lock:
            return {r[0] for r in self._db.execute(sql, args)}

    def duplicates(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(SUM(copies - 1), 0) FROM received").fetchone()[0]

    def nodes(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT node FROM received WHERE seq > 0 ORDER BY node")]

    def audit(self, node: str) -> NodeAudit:
        """Seq gaps of one node between its first and last stored sequence number."""
        with self._lock:
            seqs = [r[0] for r in self._db.execute(
                "SELECT seq FROM received WHERE node = ? AND seq > 0 ORDER BY seq", (node,))]
            dups = self._db.execute(
                "SELECT COALESCE(SUM(copies - 1), 0) FROM received WHERE node = ?", (node,)).fetchone()[0]
        if not seqs:
            return NodeAudit(node, 0, dups, 0, 0, [])
        present = set(seqs)
        gaps = [s for s in range(seqs[0], seqs[-1] + 1) if s not in present]
        return NodeAudit(node, len(seqs), dups, seqs[0], seqs[-1], gaps)

    def latencies(self, type_: str | None = None) -> list[float]:
        """Seconds from the node's envelope timestamp to first receipt here (same machine clock),
        outbox waiting included: what an outage costs shows up here."""
        sql, args = "SELECT first_at - sent_at FROM received WHERE sent_at IS NOT NULL", []
        if type_:
            sql, args = sql + " AND type = ?", [type_]
        with self._lock:
            return [r[0] for r in self._db.execute(sql, args)]

    def sent_and_first(self, type_: str) -> list[tuple[float, float | None]]:
        """(first receipt here, the node's envelope ts) of every record of a type, epoch s."""
        with self._lock:
            return list(self._db.execute("SELECT first_at, sent_at FROM received WHERE type = ?", (type_,)))

    def arrivals(self) -> list[tuple[float, str]]:
        """(first receipt time, type) of every record, in time order: throughput charts."""
        with self._lock:
            return list(self._db.execute("SELECT first_at, type FROM received ORDER BY first_at"))

    def close(self) -> None:
        with self._lock:
            self._db.close()
