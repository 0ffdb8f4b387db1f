"""The gate lane's own SQLite file: opened once per station, shared by the permit store and
the transaction journal (agent/gate/permits.py, agent/gate/journal.py).

Opened through agent.storage: a corrupt file is moved aside and a new one started (the
platform re-sends permits; the path is named in health), a file the node may not use is
refused by name, and every write runs on the store's writer thread.

Never: open the outbox's database, or commit with anything weaker than synchronous=FULL for
the journal (an in-progress transaction must survive a power cut to be recorded as aborted).
"""

from __future__ import annotations

from pathlib import Path

from agent.gate.journal import SCHEMA as JOURNAL_SCHEMA
from agent.gate.permits import SCHEMA as PERMITS_SCHEMA
from agent.storage import Database


def open_gate_db(path: Path | str) -> Database:
    """Open (creating folder and file) the gate database: WAL, synchronous FULL."""
    return Database(path, PERMITS_SCHEMA + JOURNAL_SCHEMA, what="gate", synchronous="FULL")
