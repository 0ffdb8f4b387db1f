"""`portedge run --config FILE`: run a node (a gate lane's station, or a headless PDA) until
SIGINT/SIGTERM. A config error is printed as `FILE: key: reason` lines and exits 2 before
anything is created on disk (agent.config.load is the one validation path).

While it runs the node holds its storage's lock (agent.node_lock: `portedge status` tells
"running"), tells a service manager READY/WATCHDOG/STOPPING (agent.service), and serves
/metrics and /healthz when the config has a [metrics] section (agent.metrics). A second
SIGINT/SIGTERM during the shutdown is not needed: the first one stops the node in order
(devices, workflow, link, outbox last) and the process exits 0.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import signal

from agent.logs import FORMATS

log = logging.getLogger("portedge.run")


def add_arguments(parser) -> None:
    parser.add_argument("--config", "-c", required=True, help="the node's TOML config")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", default="text", choices=FORMATS,
                        help="text (default) or json: one object per line (ts, level, node, device, message)")
    parser.add_argument("--duration", type=_positive, default=None, help="stop after this many seconds")


def _positive(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def run(args) -> int:
    from agent import logs
    from agent.config import load

    warnings: list[tuple[str, str]] = []
    config = load(args.config, warnings=warnings)  # ConfigError: lines + exit 2 (agent.cli.main)
    logs.setup(args.log_level, args.log_format, node=config.node.id, secrets=logs.config_secrets(config))
    for key, reason in warnings:
        log.warning("%s: %s: %s", args.config, key, reason)
    return asyncio.run(_main(config, args))


async def _main(config, args) -> int:
    from agent.node_lock import NodeLock
    from agent.runtime import NodeRuntime
    from agent.service import Notifier, stop_task

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack to the log
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.duration:
        loop.call_later(args.duration, stop.set)
    notifier = Notifier()
    lock = NodeLock(config.storage.path).acquire(config.node.id, args.config)
    try:
        node = NodeRuntime(config, source=args.config)
        metrics = watchdog = beat = None
        try:
            await node.start()
            metrics = await _start_metrics(node, config)
            watchdog = notifier.start_watchdog()
            beat = asyncio.create_task(_beat(lock, config.node.heartbeat_s), name="node-lock-beat")
            notifier.ready(f"node {config.node.id} running")
            print(f"portedge: node {config.node.id} ({config.node.role}) running; Ctrl-C stops", flush=True)
            await stop.wait()
            log.info("stopping node %s", config.node.id)
            notifier.stopping()
        finally:
            await stop_task(watchdog)
            await stop_task(beat)
            if metrics is not None:
                await metrics.close()
            await node.close()
    finally:
        lock.release()
    return 0


async def _start_metrics(node, config):
    if config.metrics is None:
        return None
    from agent import logs
    from agent.config.checks import split_listen
    from agent.metrics import MetricsServer

    host, port = split_listen(config.metrics.listen)
    server = await MetricsServer(node, host, port, logs.Redactor(logs.config_secrets(config))).start()
    log.info("metrics on http://%s:%d/metrics and /healthz", host, server.port)
    return server


async def _beat(lock, every_s: float) -> None:
    while True:
        lock.beat()
        await asyncio.sleep(min(every_s, 10.0))
