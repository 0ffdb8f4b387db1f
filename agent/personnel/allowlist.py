"""The offline allow-list: the platform's area passes and blacklist, kept in SQLite (hashed
keys only) so a turnstile can decide while the platform is unreachable; and the queue of
offline decisions waiting to be reconciled.

The platform pushes the whole list with a version (cmd/allow_list_sync); a list older than
(or the same as) the one held is ignored, so a late or repeated push never rolls back. A key
on the blocked list is denied whatever entries it has. An entry allows when the lane's area
is among its areas (or it names '*') and the time is inside its window.

Also here: the journal of the pass in progress (`open_pass`: the record as it would be,
hashed key and mask only), so a pass a crash interrupted is recorded as `aborted` at the next
start instead of lost.

Never: store anything but person keys (HMAC), masks and pass ids; allow a blocked key; allow
outside an entry's window.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

from agent import storage
from agent.contract.personnel import (
    AllowListSync,
    PersonDecision,
    PersonPassage,
    PersonVerifyRequest,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS allow_set (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS allow_entry (person_key TEXT NOT NULL, areas TEXT NOT NULL,
                                        valid_from TEXT NOT NULL, valid_until TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS allow_by_key ON allow_entry (person_key);
CREATE TABLE IF NOT EXISTS blocked (person_key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS open_pass (pass_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_reconcile (pass_id TEXT PRIMARY KEY, request TEXT NOT NULL,
                                              decision TEXT NOT NULL);
"""


def open_people_db(path: Path | str) -> sqlite3.Connection:
    """Through agent.storage: created 0600 in a 0700 folder, quick_check'ed, a corrupt file
    moved aside (the platform re-sends the list), any other fault raised by name."""
    return storage.open_file(path, _SCHEMA, what="people", synchronous="FULL").conn


class AllowList:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    @property
    def version(self) -> int:
        row = self.conn.execute("SELECT version FROM allow_set WHERE id = 1").fetchone()
        return -1 if row is None else int(row[0])

    def replace(self, sync: AllowListSync) -> bool:
        if sync.version <= self.version:
            return False
        with storage.transaction(self.conn) as conn:
            conn.execute("DELETE FROM allow_entry")
            conn.execute("DELETE FROM blocked")
            conn.executemany("INSERT INTO allow_entry VALUES (?, ?, ?, ?)", [
                (e.person_key, json.dumps(e.areas), e.valid_from.isoformat(), e.valid_until.isoformat())
                for e in sync.entries])
            conn.executemany("INSERT OR IGNORE INTO blocked VALUES (?)", [(k,) for k in sync.blocked])
            conn.execute("INSERT OR REPLACE INTO allow_set VALUES (1, ?)", (sync.version,))
        return True

    def decide(self, person_key: str, area: str, at: datetime) -> PersonDecision:
        version = self.version
        if version < 0:
            return PersonDecision(allow=False, by="offline", reason="no allow-list held")
        if self.conn.execute("SELECT 1 FROM blocked WHERE person_key = ?", (person_key,)).fetchone():
            return PersonDecision(allow=False, by="offline", reason="blacklisted", list_version=version)
        for areas, start, end in self.conn.execute(
                "SELECT areas, valid_from, valid_until FROM allow_entry WHERE person_key = ?", (person_key,)):
            names = json.loads(areas)
            if (area in names or "*" in names) and datetime.fromisoformat(start) <= at < datetime.fromisoformat(end):
                return PersonDecision(allow=True, by="offline", reason="offline allow-list", list_version=version)
        return PersonDecision(allow=False, by="offline", reason="no area pass on the allow-list", list_version=version)

    # -- reconciliation queue --------------------------------------------------------------------
    def await_reconcile(self, request: PersonVerifyRequest, decision: PersonDecision) -> None:
        self.conn.execute("INSERT OR REPLACE INTO pending_reconcile VALUES (?, ?, ?)",
                          (request.pass_id, request.model_dump_json(), decision.model_dump_json()))

    def pending(self, limit: int = 50) -> list[tuple[PersonVerifyRequest, PersonDecision]]:
        rows = self.conn.execute("SELECT request, decision FROM pending_reconcile ORDER BY rowid LIMIT ?", (limit,))
        return [(PersonVerifyRequest.model_validate_json(r), PersonDecision.model_validate_json(d)) for r, d in rows]

    def reconciled(self, pass_id: str) -> None:
        self.conn.execute("DELETE FROM pending_reconcile WHERE pass_id = ?", (pass_id,))


class PassJournal:
    """The pass in progress, one row per lane, written after its unlock, cleared once recorded."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def save(self, passage: PersonPassage) -> None:
        self.conn.execute("INSERT OR REPLACE INTO open_pass VALUES (?, ?)", (passage.pass_id, passage.model_dump_json()))

    def clear(self, pass_id: str) -> None:
        self.conn.execute("DELETE FROM open_pass WHERE pass_id = ?", (pass_id,))

    def open(self) -> list[PersonPassage]:
        return [PersonPassage.model_validate_json(b) for (b,) in self.conn.execute("SELECT body FROM open_pass")]
