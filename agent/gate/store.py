"""The gate lane's own SQLite file: opened once per station, shared by the permit store and
the transaction journal (agent/gate/permits.py, agent/gate/journal.py).

Never: open the outbox's database, or commit with anything weaker than synchronous=FULL for
the journal (an in-progress transaction must survive a power cut to be recorded as aborted).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_gate_db(path: Path | str) -> sqlite3.Connection:
    """Open (creating folders and file) the gate database in WAL mode with FULL sync."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn
