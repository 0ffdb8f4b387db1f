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


def open_people_db(path: Path | str) -> storage.Database:
    """Through agent.storage: created 0600 in a 0700 folder, quick_check'ed, a corrupt file
    moved aside (the platform re-sends the list), any other fault raised by name. Reads run on
    the caller's thread; writes commit on the store's writer thread, never on the event loop."""
    return storage.Database(path, _SCHEMA, what="people", synchronous="FULL")


class AllowList:
    def __init__(self, db: storage.Database):
        self.db = db

    @property
    def version(self) -> int:
        row = self.db.one("SELECT version FROM allow_set WHERE id = 1")
        return -1 if row is None else int(row[0])

    async def replace(self, sync: AllowListSync) -> bool:
        """Hold `sync` unless the list held is as new or newer; whether it was taken."""
        entries = [(e.person_key, json.dumps(e.areas), e.valid_from.isoformat(), e.valid_until.isoformat())
                   for e in sync.entries]

        def write(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT version FROM allow_set WHERE id = 1").fetchone()
            if row is not None and sync.version <= row[0]:
                return False
            conn.execute("DELETE FROM allow_entry")
            conn.execute("DELETE FROM blocked")
            conn.executemany("INSERT INTO allow_entry VALUES (?, ?, ?, ?)", entries)
            conn.executemany("INSERT OR IGNORE INTO blocked VALUES (?)", [(k,) for k in sync.blocked])
            conn.execute("INSERT OR REPLACE INTO allow_set VALUES (1, ?)", (sync.version,))
            return True

        return await self.db.write(write)

    def decide(self, person_key: str, area: str, at: datetime) -> PersonDecision:
        version = self.version
        if version < 0:
            return PersonDecision(allow=False, by="offline", reason="no allow-list held")
        if self.db.one("SELECT 1 FROM blocked WHERE person_key = ?", (person_key,)):
            return PersonDecision(allow=False, by="offline", reason="blacklisted", list_version=version)
        for areas, start, end in self.db.query(
                "SELECT areas, valid_from, valid_until FROM allow_entry WHERE person_key = ?", (person_key,)):
            names = json.loads(areas)
            if (area in names or "*" in names) and datetime.fromisoformat(start) <= at < datetime.fromisoformat(end):
                return PersonDecision(allow=True, by="offline", reason="offline allow-list", list_version=version)
        return PersonDecision(allow=False, by="offline", reason="no area pass on the allow-list", list_version=version)

    # -- reconciliation queue --------------------------------------------------------------------
    async def await_reconcile(self, request: PersonVerifyRequest, decision: PersonDecision) -> None:
        row = (request.pass_id, request.model_dump_json(), decision.model_dump_json())
        await self.db.write(lambda c: c.execute("INSERT OR REPLACE INTO pending_reconcile VALUES (?, ?, ?)", row))

    def pending(self, limit: int = 50) -> list[tuple[PersonVerifyRequest, PersonDecision]]:
        rows = self.db.query("SELECT request, decision FROM pending_reconcile ORDER BY rowid LIMIT ?", (limit,))
        return [(PersonVerifyRequest.model_validate_json(r), PersonDecision.model_validate_json(d)) for r, d in rows]

    async def reconciled(self, pass_id: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM pending_reconcile WHERE pass_id = ?", (pass_id,)))


class PassJournal:
    """The pass in progress, one row per lane, written after its unlock, cleared once recorded."""

    def __init__(self, db: storage.Database):
        self.db = db

    async def save(self, passage: PersonPassage) -> None:
        row = (passage.pass_id, passage.model_dump_json())
        await self.db.write(lambda c: c.execute("INSERT OR REPLACE INTO open_pass VALUES (?, ?)", row))

    async def clear(self, pass_id: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM open_pass WHERE pass_id = ?", (pass_id,)))

    def open(self) -> list[PersonPassage]:
        return [PersonPassage.model_validate_json(b) for (b,) in self.db.query("SELECT body FROM open_pass")]
