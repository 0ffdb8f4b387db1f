"""`portedge status --config FILE`: is the node running, and how is it, from any folder.

Running or not comes from the lock the running node holds (agent.node_lock): its pid and start
time, and the age of its last heartbeat; a stopped node says when it stopped (or that it did
not stop cleanly). Outbox depths are read live from the database; connection state and
counters are the link's last saved snapshot (written on connect and with every heartbeat),
shown as such. Relative storage paths resolve against the config's folder, so the working
folder does not matter. What the file system says about each of the node's files
(agent.storage.probe_file: full, not permitted, removed) is added live, since a full disk is
exactly when the snapshot cannot be saved. Never writes to the database; never prints a secret.
"""

from __future__ import annotations

import json
import sqlite3
import sys

from agent import storage
from agent.outbox import inspect


def _storage_fault(reason: str) -> bool:
    """A saved outbox reason the live reading of the file cannot see again (the running node's)."""
    return any(words in reason for words in ("storage full", "permission denied", "database file removed"))


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="the node's config file")
    parser.add_argument("--json", action="store_true", help="print the health model as JSON")


def run(args) -> int:
    from agent import logs, node_lock
    from agent.config.load import load
    from agent.outbox.store import at_cap_reason, moved_aside_reason

    config = load(args.config)  # ConfigError: lines + exit 2 (agent.cli.main)
    redact = logs.Redactor(logs.config_secrets(config))
    process = node_lock.read(node_lock.lock_path(config.storage.path))
    files = storage.node_files(config)
    told = [reason for what, path in files.items() for reason in storage.probe_file(path, what)]
    s: dict = {"health": None, "classes": {}, "corrupt_moved_to": None}
    try:
        conn = inspect.open_ro(config.storage.path)
    except storage.StorageError as err:  # e.g. mode 000: said in the storage layer's words, not a traceback
        conn = None
        told.append(f"outbox {err}")
    except FileNotFoundError as err:
        print(f"error: {err}" + ("" if process.known else " (the node has not run with this storage yet)"),
              file=sys.stderr)
        return 2
    if conn is not None:
        try:
            s = inspect.stats(conn)
        except sqlite3.Error as err:
            path = files["outbox"]
            told.append(f"outbox {storage.describe(storage.classify(err, path), path, str(err))}")
        finally:
            conn.close()
    saved = s["health"] or {}
    health = {"running": process.running, "pid": process.pid if process.running else None,
              "started": process.started, "stopped": process.stopped, "last_beat_age_s": process.last_beat_age_s,
              "connected": saved.get("connected", False) and process.running, "broker": saved.get("broker"),
              "outbox": s["classes"],
              "errors": saved.get("errors", {}),
              "degraded": [r for r in saved.get("degraded", []) if not r.startswith("outbox ") or _storage_fault(r)]}
    if not process.running:
        health["degraded"] = [r for r in health["degraded"] if not r.startswith("not connected")]
        health["degraded"].insert(0, "node not running" + (f" (stopped {process.stopped})" if process.stopped else
                                                           " (it did not stop cleanly)" if process.known else ""))
    health["degraded"] += [r for r in dict.fromkeys(told) if r not in health["degraded"]]
    for name, c in s["classes"].items():
        cap = config.storage.caps[name]
        if name != "telemetry" and (c["rows"] >= cap.max_rows or c["bytes"] >= cap.max_bytes):
            health["degraded"].append(at_cap_reason(name, c["rows"]))
    if s["corrupt_moved_to"]:
        health["degraded"].append(moved_aside_reason(s["corrupt_moved_to"]))
    if args.json:
        print(redact(json.dumps(health, indent=2, ensure_ascii=False)))
        return 0 if not health["degraded"] else 1
    node = f"node {config.node.id} ({config.node.role}, site {config.node.site})"
    if process.running:
        print(f"{node}: RUNNING (pid {process.pid}, since {process.started}, "
              f"last heartbeat {process.last_beat_age_s} s ago)")
        state = "connected" if health["connected"] else "NOT connected"
        where = f" to {health['broker']}" if health["broker"] else ""
        print(f"  link {state}{where} (as last saved by the node)")
    else:
        print(f"{node}: NOT RUNNING" + (f" (stopped {process.stopped})" if process.stopped else
                                       f" (last started {process.started}; it did not stop cleanly)"
                                       if process.known else ""))
    for name, c in s["classes"].items():
        age = "-" if c["oldest_age_s"] is None else f"{c['oldest_age_s']} s"
        print(f"  outbox {name:<13} {c['rows']:>9} rows  oldest {age:>10}  dropped {c['dropped']}")
    for kind, count in sorted(health["errors"].items()):
        print(f"  {kind}: {count}")
    print(redact("  DEGRADED: " + "; ".join(health["degraded"]) if health["degraded"] else "  healthy"))
    return 0 if not health["degraded"] else 1
