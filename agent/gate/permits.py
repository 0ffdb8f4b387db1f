"""Offline permits: the platform's pre-advice and appointments, kept in SQLite so a lane can
decide while the platform is unreachable.

The platform pushes the whole set with a version (cmd/permits_sync); a set older than (or
the same as) the one held is ignored, so a late or repeated push never rolls the lane back.
A permit matches a truck when the time is inside its validity window and the evidence fits:
  - a permit naming a plate matches only that plate (after normalising spaces and dots);
  - container numbers read on the truck must all be on the permit (a truck arriving empty
    to collect an import box reads none, and matches by plate);
  - at least one of plate or container numbers must actually match: no evidence, no permit.

Never: allow on a partial match, match an expired permit, or mutate a permit in place.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime

from agent.contract.gate import Permit, PermitsSync
from agent.storage import Database

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS permit_set (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS permit (permit_id TEXT PRIMARY KEY, plate TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS permit_container (permit_id TEXT NOT NULL, number TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS permit_by_plate ON permit (plate);
CREATE INDEX IF NOT EXISTS permit_by_container ON permit_container (number);
"""


def normalise_plate(text: str | None) -> str:
    return "".join((text or "").split()).replace("·", "").replace("-", "").upper()


class PermitStore:
    def __init__(self, db: Database):
        self.db = db

    @property
    def version(self) -> int:
        row = self.db.one("SELECT version FROM permit_set WHERE id = 1")
        return -1 if row is None else int(row[0])

    def count(self) -> int:
        return int(self.db.one("SELECT count(*) FROM permit")[0])

    async def replace(self, sync: PermitsSync) -> bool:
        """Take the set if it is newer than the one held. Returns whether it was taken. The
        version is checked again in the writing transaction: two pushes cannot both win."""
        if sync.version <= self.version:
            log.info("permit set version %d ignored (holding %d)", sync.version, self.version)
            return False
        rows = [(p.permit_id, normalise_plate(p.plate), p.model_dump_json()) for p in sync.permits]
        numbers = [(p.permit_id, c.upper()) for p in sync.permits for c in p.containers]

        def write(conn: sqlite3.Connection) -> bool:
            held = conn.execute("SELECT version FROM permit_set WHERE id = 1").fetchone()
            if held is not None and sync.version <= int(held[0]):
                return False
            conn.execute("DELETE FROM permit")
            conn.execute("DELETE FROM permit_container")
            conn.executemany("INSERT OR REPLACE INTO permit VALUES (?, ?, ?)", rows)
            conn.executemany("INSERT INTO permit_container VALUES (?, ?)", numbers)
            conn.execute("INSERT OR REPLACE INTO permit_set VALUES (1, ?)", (sync.version,))
            return True

        return await self.db.write(write)

    def find(self, plate: str | None, containers: list[str] | tuple[str, ...], at: datetime) -> Permit | None:
        """The permit for this truck at this time, or None. Earliest-ending window first."""
        plate_n = normalise_plate(plate)
        read = {c.upper() for c in containers}
        ids: set[str] = set()
        if plate_n:
            ids.update(r[0] for r in self.db.query("SELECT permit_id FROM permit WHERE plate = ?", (plate_n,)))
        for number in read:
            ids.update(r[0] for r in self.db.query("SELECT permit_id FROM permit_container WHERE number = ?", (number,)))
        found = []
        for pid in ids:
            row = self.db.one("SELECT body FROM permit WHERE permit_id = ?", (pid,))
            if row is None:
                continue
            permit = Permit.model_validate(json.loads(row[0]))
            if _fits(permit, plate_n, read, at):
                found.append(permit)
        found.sort(key=lambda p: (p.valid_until, p.permit_id))
        return found[0] if found else None


def _fits(permit: Permit, plate: str, read: set[str], at: datetime) -> bool:
    if not permit.valid_from <= at < permit.valid_until:
        return False
    permit_plate = normalise_plate(permit.plate)
    listed = {c.upper() for c in permit.containers}
    if permit_plate and permit_plate != plate:
        return False
    if not read <= listed:
        return False
    plate_evidence = bool(permit_plate) and permit_plate == plate
    container_evidence = bool(read) and read <= listed
    return plate_evidence or container_evidence

