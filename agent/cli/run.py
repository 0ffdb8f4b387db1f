"""`portedge run --config FILE`: run a node (a gate lane's station, or a headless PDA) until
SIGINT/SIGTERM. A config error is printed as `FILE: key: reason` and exits 2."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys


def add_arguments(parser) -> None:
    parser.add_argument("--config", "-c", required=True, help="the node's TOML config")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


def run(args) -> int:
    from agent.config import load
    from agent.errors import ConfigError

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load(args.config)
        return asyncio.run(_main(config, args))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2


async def _main(config, args) -> int:
    from agent.runtime import NodeRuntime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.duration:
        loop.call_later(args.duration, stop.set)
    node = NodeRuntime(config, source=args.config)
    print(f"portedge: node {config.node.id} ({config.node.role}) running; Ctrl-C stops", flush=True)
    await node.run(stop)
    return 0
