"""`portedge pda --config examples/pda-local.toml`: start the forklift PDA app (Kivy), running the
agent core (outbox, link, task board, scanners) in-process on the app's asyncio loop.

Registered in agent/cli/main.py's `COMMANDS` the way the simulator commands are: agent/ names
this module as data and never imports it. Kivy is imported only inside `run`, so
`portedge --help` works without the `[pda]` extra and `portedge pda` explains what to install.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, required=True, help="the PDA node's config file (TOML)")
    parser.add_argument("--offscreen", action="store_true",
                        help="render without a display (SDL2 offscreen + Mesa); for tests and kiosks")
    parser.add_argument("--lang", choices=("zh", "en"), help="start in this language (default: [pda] language)")
    parser.add_argument("--exit-after", type=_positive, default=None, metavar="SECONDS",
                        help="close the app after this long (smoke tests)")
    parser.add_argument("--size", type=_size, default="480x800", help="window size WIDTHxHEIGHT (default 480x800)")


def _need(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def _size(text: str) -> str:
    width, sep, height = text.partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT in pixels (e.g. 480x800), not {text!r}")
    return text


def _positive(text: str) -> float:
    from agent.cli.run import _positive as positive

    return positive(text)


def run(args: argparse.Namespace) -> int:
    from agent.config.load import load
    from agent.errors import ConfigError
    from agent.node_lock import NodeLock

    config = load(args.config)  # a ConfigError becomes `FILE: key: reason` lines and exit 2 (cli.main)
    if config.node.role != "pda":
        raise ConfigError(str(args.config), [("node.role", f"is {config.node.role!r}; `portedge pda` needs role = \"pda\"")])
    _need("kivy")  # before anything starts: "install portedge[pda]" (agent.cli.main)
    from pda_app import fonts, headless

    try:
        fonts.find_cjk_font()
    except fonts.CjkFontMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    width, _, height = args.size.partition("x")
    # `portedge --debug pda ...` also shows Kivy's own log (cli.main takes --debug off argv first)
    headless.prepare(offscreen=args.offscreen, size=(int(width), int(height)), debug="--debug" in sys.argv[1:])
    headless.configure_window()
    from pda_app.app import PdaApp
    from pda_app.core import PdaCore

    async def main() -> None:
        core = PdaCore(config)
        if args.lang:
            core.presenter.lang = args.lang
        await core.start()
        app = PdaApp(core.presenter)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C and SIGTERM close the app like its own exit
            loop.add_signal_handler(sig, app.stop)
        if args.exit_after is not None:
            loop.call_later(args.exit_after, app.stop)
        try:
            await app.async_run(async_lib="asyncio")
        finally:
            await core.stop()

    lock = NodeLock(config.storage.path).acquire(config.node.id, str(args.config))
    try:
        asyncio.run(main())
    finally:
        lock.release()
    return 0
