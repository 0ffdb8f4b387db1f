"""`portedge contract`: write the wire contract, or check that a committed copy is current.

    portedge contract                         AsyncAPI YAML to stdout
    portedge contract --format jsonschema -o docs/schemas/portedge-v1.schema.json
    portedge contract --check docs/asyncapi.yaml      exit 1 and a diff summary if it drifted
    portedge contract --format acl --site yantian -o /etc/mosquitto/portedge.acl   broker ACL
    portedge contract --format mosquitto --site yantian    a mosquitto.conf to go with it
    portedge contract -o docs/camera-openapi.yaml    the camera push API (OpenAPI 3.1)

The format follows the file's name (.json -> jsonschema, a name with "openapi" -> openapi)
unless --format says otherwise.
This command only reads the catalog; it must never edit the file it is asked to check.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

import yaml

#: what a failed check prints: changed key paths first, then the start of the text diff
SUMMARY_LINES = 30
DIFF_LINES = 40


def add_arguments(parser) -> None:
    parser.add_argument("--format", choices=("asyncapi", "jsonschema", "openapi", "acl", "mosquitto"), default=None,
                        help="asyncapi (YAML, default), jsonschema (one JSON bundle), openapi (the camera "
                             "push API, YAML), acl (a mosquitto "
                             "acl_file confining each node to its own topics of one site) or mosquitto "
                             "(a mosquitto.conf: TLS, passwords, client id = username, the ACL)")
    parser.add_argument("--site", help="the site the ACL / broker config is for (acl and mosquitto)")
    parser.add_argument("--platform-user", action="append", metavar="NAME",
                        help="a platform username the ACL lets read and command every node of the "
                             "site; repeat for each platform consumer (default: platform)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    where.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from the generated contract")


def _format_for(args) -> str:
    if args.format:
        return args.format
    target = args.check or args.output or ""
    if target.endswith(".json"):
        return "jsonschema"
    return "openapi" if "openapi" in Path(target).name else "asyncapi"


def run(args) -> int:
    from agent.contract.asyncapi import render

    fmt = _format_for(args)
    if fmt in ("acl", "mosquitto"):
        from agent.contract import broker
        from agent.errors import TopicError

        if not args.site:
            print(f"portedge contract: --format {fmt} needs --site SITE (the node config's node.site)",
                  file=sys.stderr)
            return 2
        try:
            text = (broker.acl_text(args.site, tuple(args.platform_user or ["platform"]))
                    if fmt == "acl" else broker.mosquitto_conf(args.site))
        except TopicError as err:
            print(f"portedge contract: {err}", file=sys.stderr)
            return 2
    else:
        text = render(fmt)
    if args.check:
        return check(Path(args.check), text)
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({fmt}, {len(text.splitlines())} lines)", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0


def check(path: Path, generated: str) -> int:
    try:
        committed = path.read_text(encoding="utf-8")
    except OSError as err:
        print(f"{path}: cannot read: {err.strerror or err}", file=sys.stderr)
        return 1
    if committed == generated:
        print(f"{path}: up to date")
        return 0
    print(f"{path}: out of date with the catalog; regenerate with `portedge contract -o {path}`",
          file=sys.stderr)
    changes = structural_changes(committed, generated)
    for line in changes[:SUMMARY_LINES]:
        print(f"  {line}", file=sys.stderr)
    if len(changes) > SUMMARY_LINES:
        print(f"  ... {len(changes) - SUMMARY_LINES} more changes", file=sys.stderr)
    diff = list(difflib.unified_diff(committed.splitlines(), generated.splitlines(),
                                     f"{path} (committed)", f"{path} (generated)", lineterm=""))
    for line in diff[:DIFF_LINES]:
        print(line, file=sys.stderr)
    if len(diff) > DIFF_LINES:
        print(f"... {len(diff) - DIFF_LINES} more diff lines", file=sys.stderr)
    return 1


def structural_changes(committed: str, generated: str) -> list[str]:
    """Key paths that were added, removed or changed, deepest first found ("a.b.c: added")."""
    try:
        old = yaml.safe_load(committed)  # JSON is YAML too
    except yaml.YAMLError as err:
        return [f"(committed file does not parse: {err})"]
    out: list[str] = []
    _compare(old, yaml.safe_load(generated), "", out)
    return out or ["(same content, different formatting)"]


def _compare(old: Any, new: Any, where: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in new:
            path = f"{where}.{key}" if where else str(key)
            if key not in old:
                out.append(f"{path}: added")
            else:
                _compare(old[key], new[key], path, out)
        out.extend(f"{where}.{key}: removed" if where else f"{key}: removed" for key in old if key not in new)
    elif old != new:
        out.append(f"{where or '(top)'}: changed")
