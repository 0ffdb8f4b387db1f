"""Read-only views of an outbox file for operators (`portedge outbox`, `portedge status`).

Opens the database read-only, so it is safe while the node runs. Must never write to it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent import storage
from agent.outbox.schema import PRIORITIES


def open_for_config(config_file: str):
    """(config, read-only connection) for a node's config file; ConfigError or
    FileNotFoundError when either is missing or wrong."""
    from agent.config.load import load

    config = load(config_file)
    return config, open_ro(Path(config.storage.path))


def open_or_explain(config_file: str):
    """`open_for_config` for the CLI: on a bad config or a missing or unreadable database,
    print why to stderr and return None (the command then exits 2)."""
    import sys

    from agent.errors import ConfigError

    try:
        return open_for_config(config_file)
    except (ConfigError, FileNotFoundError, storage.StorageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def open_ro(path: Path | str) -> sqlite3.Connection:
    path = Path(path)
    if not path.exists():
        if path.with_name(path.name + "-wal").exists():  # a node is (or was) running on it
            raise FileNotFoundError(f"outbox {storage.describe(storage.Fault.GONE, path)}")
        raise FileNotFoundError(f"no outbox database at {path}")
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as err:  # e.g. mode 000: told in the storage layer's words
        raise storage.StorageError(storage.classify(err, path), path) from err


def stats(conn: sqlite3.Connection, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    classes = {}
    for prio, name in enumerate(PRIORITIES):
        rows, size, oldest = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(length(payload)), 0), MIN(created) FROM outbox WHERE prio = ?", (prio,)).fetchone()
        classes[name] = {"rows": rows, "bytes": size, "oldest_age_s": round(now - oldest, 1) if oldest else None,
                         "dropped": int(meta.get(f"dropped:{prio}", 0))}
    return {"classes": classes, "seq": int(meta.get("seq", 0)), "corrupt_moved_to": meta.get("corrupt_moved_to"),
            "answers": conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0],
            "health": json.loads(meta["health"]) if meta.get("health") else None}


def _rows(conn: sqlite3.Connection, select: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The outbox's rows in send order, as dicts (sqlite-utils: imported here only, it costs
    0.3-3 s to import, which operator commands can afford and a node's start cannot)."""
    import sqlite_utils

    return sqlite_utils.Database(conn)["outbox"].rows_where(select=select, order_by="prio, seq", limit=limit)


def peek(conn: sqlite3.Connection, n: int) -> Iterator[dict[str, Any]]:
    for r in _rows(conn, "msg_id, seq, prio, kind, name, topic, type, length(payload) AS size, created", n):
        yield {"seq": r["seq"], "priority": PRIORITIES[r["prio"]], "type": r["type"], "id": r["msg_id"],
               "topic": r["topic"] or f"{r['kind']}/{r['name']}", "bytes": r["size"],
               "age_s": round(time.time() - r["created"], 1)}


def export(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """Every waiting message as stored (payload decoded), in send order."""
    for r in _rows(conn, "seq, prio, kind, name, topic, payload"):
        yield {"seq": r["seq"], "priority": PRIORITIES[r["prio"]], "topic": r["topic"] or f"{r['kind']}/{r['name']}",
               "message": json.loads(bytes(r["payload"]))}
