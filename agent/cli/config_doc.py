"""`portedge config-doc`: the node config reference (docs/config.md), generated from the models.

    portedge config-doc                          to stdout
    portedge config-doc -o docs/config.md        write it
    portedge config-doc --check docs/config.md   exit 1 (and the first differing lines) if it drifted
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path


def add_arguments(parser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    where.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from the generated reference")


def run(args) -> int:
    from agent.config.reference import render

    text = render()
    if args.check:
        path = Path(args.check)
        try:
            committed = path.read_text(encoding="utf-8")
        except OSError as err:
            print(f"{path}: cannot read: {err.strerror or err}", file=sys.stderr)
            return 1
        if committed == text:
            print(f"{path}: up to date")
            return 0
        print(f"{path}: out of date with agent/config; regenerate with `portedge config-doc -o {path}`", file=sys.stderr)
        diff = list(difflib.unified_diff(committed.splitlines(), text.splitlines(), "committed", "generated",
                                         lineterm=""))
        for line in diff[:40]:
            print(line, file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({len(text.splitlines())} lines)", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0
