"""`portedge status --config FILE`: the node's health from its local database.

Outbox depths are read live from the file; connection state and counters are the link's last
saved snapshot (written on connect and with every heartbeat). Never writes to the database.
"""

from __future__ import annotations

import json

from agent.outbox import inspect


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="the node's config file")
    parser.add_argument("--json", action="store_true", help="print the health model as JSON")


def run(args) -> int:
    opened = inspect.open_or_explain(args.config)
    if opened is None:
        return 2
    config, conn = opened
    try:
        s = inspect.stats(conn)
    finally:
        conn.close()
    saved = s["health"] or {}
    health = {"connected": saved.get("connected", False), "outbox": s["classes"], "errors": saved.get("errors", {}),
              "degraded": [r for r in saved.get("degraded", []) if not r.startswith("outbox ")]}
    for name, c in s["classes"].items():
        cap = config.storage.caps[name]
        if name != "telemetry" and (c["rows"] >= cap.max_rows or c["bytes"] >= cap.max_bytes):
            health["degraded"].append(f"outbox {name} class at its cap ({c['rows']} rows): puts block")
    if s["corrupt_moved_to"]:
        health["degraded"].append(f"outbox database was corrupt, moved aside to {s['corrupt_moved_to']}")
    if args.json:
        print(json.dumps(health, indent=2, ensure_ascii=False))
        return 0
    state = "connected" if health["connected"] else "NOT connected"
    print(f"node {config.node.id} ({config.node.role}, site {config.node.site}): {state} (last saved by the link)")
    for name, c in s["classes"].items():
        age = "-" if c["oldest_age_s"] is None else f"{c['oldest_age_s']} s"
        print(f"  outbox {name:<13} {c['rows']:>9} rows  oldest {age:>10}  dropped {c['dropped']}")
    for kind, count in sorted(health["errors"].items()):
        print(f"  {kind}: {count}")
    print("  DEGRADED: " + "; ".join(health["degraded"]) if health["degraded"] else "  healthy")
    return 0 if not health["degraded"] else 1
