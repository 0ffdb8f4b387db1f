"""`portedge` command line. Each subcommand lives in its own module under agent/cli/ and
registers itself through `COMMANDS` (name -> "module:function"); modules are imported only
when their command runs, so a gate station never imports Kivy or the simulators' extras.

A command module provides `add_arguments(parser)` and `run(args) -> int` (the exit code).
`sim` and `demo` live in simulators/: agent/ names them but never imports them itself.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("agent.cli.version", "print the Port Edge version"),
    "check-config": ("agent.cli.check_config", "validate a node config file"),
    "contract": ("agent.cli.contract", "write the wire contract (AsyncAPI or JSON Schema)"),
    "run": ("agent.cli.run", "run a node (gate station) from its config"),
    "outbox": ("agent.cli.outbox", "inspect a node's outbox: stats, peek, export"),
    "status": ("agent.cli.status", "print a node's health from its local database"),
    "audit": ("agent.cli.audit", "check a gate's audit log, or export a date range for customs"),
    "pda": ("agent.cli.pda", "start the forklift PDA app"),
    # the simulators ship in the same distribution; named here, imported only when run
    "sim": ("simulators.cli", "simulators: lane hardware, platform, scenarios, fleets"),
    "demo": ("simulators.demo", "run a whole simulated port on one machine"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portedge", description="Port Edge: the smart port's edge agent")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as err:
                if err.name and err.name.startswith(module_name):
                    continue  # command not built yet in this checkout
                raise
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0 if args.command is None else 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
