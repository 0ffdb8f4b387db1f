"""`portedge outbox stats|peek [-n N]|export FILE --config FILE`: look into a node's outbox.

Reads the database read-only (safe while the node runs); never changes it.
"""

from __future__ import annotations

import json
import sys

from agent.outbox import inspect


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=["stats", "peek", "export"])
    parser.add_argument("file", nargs="?", help="export: where to write JSON lines ('-' for stdout)")
    parser.add_argument("--config", required=True, help="the node's config file")
    parser.add_argument("-n", type=int, default=20, help="peek: how many rows")


def run(args) -> int:
    opened = inspect.open_or_explain(args.config)
    if opened is None:
        return 2
    config, conn = opened
    try:
        if args.action == "stats":
            s = inspect.stats(conn)
            print(f"outbox {config.storage.path}  node {config.node.id}  last seq {s['seq']}")
            for name, c in s["classes"].items():
                age = "-" if c["oldest_age_s"] is None else f"{c['oldest_age_s']} s"
                print(f"  {name:<13} rows {c['rows']:>9}  bytes {c['bytes']:>11}  oldest {age:>10}  dropped {c['dropped']}")
            if s["corrupt_moved_to"]:
                print(f"  note: a corrupt database was moved aside to {s['corrupt_moved_to']}")
        elif args.action == "peek":
            for row in inspect.peek(conn, args.n):
                print(f"{row['seq']:>8} {row['priority']:<13} {row['type']:<18} {row['id']} {row['bytes']:>6} B"
                      f"  {row['age_s']} s  {row['topic']}")
        else:
            if not args.file:
                print("error: export needs a FILE (or '-')", file=sys.stderr)
                return 2
            out = sys.stdout if args.file == "-" else open(args.file, "w", encoding="utf-8")
            count = 0
            try:
                for item in inspect.export(conn):
                    out.write(json.dumps(item, ensure_ascii=False) + "\n")
                    count += 1
            finally:
                if out is not sys.stdout:
                    out.close()
            print(f"exported {count} messages to {args.file}", file=sys.stderr)
    finally:
        conn.close()
    return 0
