"""`portedge pda --config examples/pda.toml`: start the forklift PDA app (Kivy), running the
agent core (outbox, link, task board, scanners) in-process on the app's asyncio loop.

Lives in agent/cli but imports `pda_app` only inside `run`, so a gate station never imports
Kivy (agent modules themselves never import pda_app).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, required=True, help="the PDA node's config file (TOML)")
    parser.add_argument("--offscreen", action="store_true",
                        help="render without a display (SDL2 offscreen + Mesa); for tests and kiosks")
    parser.add_argument("--lang", choices=("zh", "en"), help="start in this language (default: [pda] language)")
    parser.add_argument("--exit-after", type=float, default=None, metavar="SECONDS",
                        help="close the app after this long (smoke tests)")
    parser.add_argument("--size", default="480x800", help="window size WIDTHxHEIGHT (default 480x800)")


def run(args: argparse.Namespace) -> int:
    import importlib

    from agent.config.load import load
    from agent.errors import ConfigError

    config = load(args.config)  # a ConfigError becomes `FILE: key: reason` lines and exit 2 (cli.main)
    if config.node.role != "pda":
        raise ConfigError(str(args.config), [("node.role", f"is {config.node.role!r}; `portedge pda` needs role = \"pda\"")])
    headless = importlib.import_module("pda_app.headless")
    fonts = importlib.import_module("pda_app.fonts")
    try:
        fonts.find_cjk_font()
    except fonts.CjkFontMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    width, _, height = args.size.partition("x")
    headless.prepare(offscreen=args.offscreen, size=(int(width), int(height)))
    headless.configure_window()
    core_mod = importlib.import_module("pda_app.core")
    app_mod = importlib.import_module("pda_app.app")

    async def main() -> None:
        core = core_mod.PdaCore(config)
        if args.lang:
            core.presenter.lang = args.lang
        await core.start()
        app = app_mod.PdaApp(core.presenter)
        if args.exit_after is not None:
            asyncio.get_running_loop().call_later(args.exit_after, app.stop)
        try:
            await app.async_run(async_lib="asyncio")
        finally:
            await core.stop()

    asyncio.run(main())
    return 0
