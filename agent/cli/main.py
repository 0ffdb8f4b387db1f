"""`portedge` command line. Each subcommand lives in its own module under agent/cli/ and
registers itself through `COMMANDS` (name -> "module:function"); modules are imported only
when their command runs, so a gate station never imports Kivy or the simulators' extras.

A command module provides `add_arguments(parser)` and `run(args) -> int` (the exit code).
`sim` and `demo` live in simulators/, `pda` in pda_app/: agent/ names them here, as data, and
never imports them itself (tests/test_layers.py).

No traceback reaches a user: `main` turns every error into one line on stderr and an exit
code — 2 for usage and config errors (`FILE: key.path: reason` lines), 1 for run-time
failures, 130 for Ctrl-C; output piped into `head` ends quietly. `portedge --debug ...`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from agent import __version__

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("agent.cli.version", "print the Port Edge version"),
    "init": ("agent.cli.init", "write a starting node config (gate or pda) and its service drop-in"),
    "check-config": ("agent.cli.check_config", "validate a node config file"),
    "config-doc": ("agent.cli.config_doc", "write the config reference (docs/config.md) from the models"),
    "contract": ("agent.cli.contract", "write the contract: MQTT (AsyncAPI, JSON Schema), camera push (OpenAPI), broker ACL"),
    "run": ("agent.cli.run", "run a node from its config: a gate lane, or a PDA without its screen (headless)"),
    "outbox": ("agent.cli.outbox", "inspect a node's outbox: stats, peek, export"),
    "status": ("agent.cli.status", "print a node's health from its local database"),
    "staff-pin": ("agent.cli.staff_pin", "print a [[console.staff]] entry with a clerk's PIN hashed"),
    "audit": ("agent.cli.audit", "check a gate's audit log, or export a date range for customs"),
    "pda": ("pda_app.cli", "start the forklift PDA app"),
    # the simulators ship in the same distribution; named here, imported only when run
    "sim": ("simulators.cli", "simulators: lane hardware, platform, scenarios, fleets"),
    "demo": ("simulators.demo", "run a whole simulated port on one machine"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portedge", description="Port Edge: the smart port's edge agent")
    parser.add_argument("--version", action="version", version=f"portedge {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as err:
                if err.name and err.name.startswith(module_name):
                    continue  # command not built yet in this checkout
                if only is None and (err.name or "").split(".")[0] in EXTRAS:
                    continue  # `portedge --help` without the extras; running it explains
                raise
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


#: a module the extras bring -> the extra that installs it
EXTRAS = {"kivy": "pda", "amqtt": "sim", "matplotlib": "sim"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    if argv == ["--version"]:  # answered before the parser imports every command
        print(f"portedge {__version__}")
        return 0
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except Exception as err:
        if debug:
            raise
        return explain(err)
    except KeyboardInterrupt:
        if debug:
            raise
        print("portedge: interrupted", file=sys.stderr)
        return 130


def _dispatch(argv: list[str]) -> int:
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr if args.command else sys.stdout)
        return 0 if args.command is None else 2
    return int(args._run(args) or 0)


def explain(err: BaseException) -> int:
    """One line (or one per config problem) on stderr for an error; the exit code."""
    from agent.errors import ConfigError, PortEdgeError, UsageError

    if isinstance(err, BrokenPipeError):
        # the reader (e.g. `| head`) has gone: stop writing, quietly
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return 0
    if isinstance(err, ConfigError):
        print(err, file=sys.stderr)
        return 2
    if isinstance(err, UsageError):
        print(f"error: {err}", file=sys.stderr)
        return 2
    if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] in EXTRAS:
        extra = EXTRAS[(err.name or "").split(".")[0]]
        print(f"error: this command needs {err.name}, which is not installed: install portedge[{extra}] "
              f"(pip install 'portedge[{extra}]')", file=sys.stderr)
        return 1
    if isinstance(err, ModuleNotFoundError):
        print(f"error: {err}: this installation of portedge is incomplete; reinstall it (pip install portedge)",
              file=sys.stderr)
        return 1
    if isinstance(err, PortEdgeError):
        print(f"error: {err}", file=sys.stderr)
        return 1
    if isinstance(err, OSError):
        where = f": {err.filename}" if err.filename else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    print(f"error: unexpected {type(err).__name__}: {err} (portedge --debug ... shows the traceback)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
