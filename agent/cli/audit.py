"""`portedge audit verify|export`: check a gate's hash-chained audit log, or hand a date range
of it to customs as JSON lines.

The log is found from the node's config (beside its outbox) or given with `--log`. `verify`
exits 0 when the chain is whole, 1 naming the first broken entry, 2 when there is no log to
read. `export` writes the entries whose time falls in [--from, --to) unchanged (hashes
included, so a reader can check the segment), and stops with exit 1 at a broken entry.
Never writes to the log.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from agent.audit.chain import GENESIS, check_entry


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    for name, text in (("verify", "check the whole chain; name the first broken entry"),
                       ("export", "write a date range as JSON lines")):
        p = sub.add_parser(name, help=text, description=text)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--config", help="the gate node's config file (the log is beside its outbox)")
        where.add_argument("--log", help="the audit log file itself")
        if name == "export":
            p.add_argument("--from", dest="start", required=True, help="first day or instant (ISO 8601, UTC if no zone)")
            p.add_argument("--to", dest="end", required=True, help="last day (inclusive) or instant (exclusive)")
            p.add_argument("-o", "--output", help="file to write (default: standard output)")


def log_path(args) -> Path | None:
    if args.log:
        return Path(args.log)
    from agent.config import load
    from agent.errors import ConfigError
    from agent.runtime import sibling_path

    try:
        config = load(args.config)
    except (ConfigError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    return sibling_path(config, "audit.jsonl")


def instant(text: str, *, end: bool) -> datetime:
    """A day means its whole day: --to 2026-12-01 ends at the start of 2026-12-02."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def entries(path: Path):
    """(line number, raw line, entry or None, why) for each line, stopping after a broken one."""
    seq, prev = 1, GENESIS
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                yield number, raw, None, "last line is incomplete (torn write)"
                return
            entry, why = check_entry(raw, seq, prev)
            yield number, raw, entry, why
            if entry is None:
                return
            seq, prev = seq + 1, entry.hash


def run(args) -> int:
    path = log_path(args)
    if path is None:
        return 2
    if not path.exists():
        print(f"error: no audit log at {path}", file=sys.stderr)
        return 2
    return verify(path) if args.audit_command == "verify" else export(path, args)


def verify(path: Path) -> int:
    count, head = 0, GENESIS
    for number, _raw, entry, why in entries(path):
        if entry is None:
            print(f"{path}: BROKEN at entry {number} (line {number}): {why}; "
                  f"the {count} entries before it are intact")
            return 1
        count, head = entry.seq, entry.hash
    print(f"{path}: {count} entries, chain intact; head {count} {head}")
    return 0


def export(path: Path, args) -> int:
    try:
        start, end = instant(args.start, end=False), instant(args.end, end=True)
    except ValueError as err:
        print(f"error: --from/--to: {err}", file=sys.stderr)
        return 2
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    written = 0
    try:
        for number, raw, entry, why in entries(path):
            if entry is None:
                print(f"{path}: BROKEN at entry {number}: {why}; export stopped after {written} entries",
                      file=sys.stderr)
                return 1
            if start <= datetime.fromisoformat(entry.ts) < end:
                out.write(raw)
                written += 1
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    print(f"exported {written} entries from {path}", file=sys.stderr)
    return 0
