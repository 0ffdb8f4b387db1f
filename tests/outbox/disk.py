"""What the outbox's file holds, read beside the outbox's own connections."""

from __future__ import annotations

import sqlite3


def committed_rows(path) -> list[tuple[int, str]]:
    """Read with a separate connection: what a crash right now would leave on disk."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("SELECT seq, msg_id FROM outbox ORDER BY seq").fetchall()
    finally:
        conn.close()
