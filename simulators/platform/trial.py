"""`portedge sim pda`: a platform to try the PDA app against, alone on one machine.

Reads the PDA's own config (default examples/pda-local.toml) for its site and broker, starts a
mosquitto there when the broker is on this machine and nothing listens yet, and runs the
platform simulator on it with a driver roster and the task dispatcher
(simulators/platform/dispatch.py). Then `portedge pda --config <the same file>` logs in with
badge D0001 and PIN 1234 and receives inspection tasks. Never talks to a broker that is not on
this machine unless `--broker` names it.
"""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Callable

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def run_trial(args: argparse.Namespace, serve: Callable, stop: threading.Event | None = None) -> int:
    """Start what is missing, then `serve(sim, args, say, stop)` until stopped: 0 when stopped
    (also while starting), 2 on a config or broker problem."""
    from simulators.args import stop_on_signals

    stop = stop or stop_on_signals()  # before the slow imports, the broker and the platform
    from agent.config.load import load
    from agent.errors import ConfigError
    from simulators.mosquitto import Mosquitto, find_mosquitto
    from simulators.platform import Ledger, PlatformSim

    def say(text: str) -> None:
        print(text, flush=True)

    try:
        config = load(args.config)
    except ConfigError as err:
        say(f"error: {err}")
        return 2
    if config.node.role != "pda":
        say(f"error: {args.config}: node.role: is {config.node.role!r}; `portedge sim pda` needs a PDA's config")
        return 2
    url, broker = args.broker, None
    if url is None:
        b = config.broker
        if b.host not in LOOPBACK or b.tls:
            say(f"error: {args.config}: broker.url: {b.url} is not a plain broker on this machine; "
                "use examples/pda-local.toml, or name a broker with --broker mqtt://127.0.0.1:PORT")
            return 2
        url = f"mqtt://{b.host}:{b.port}"
        if not _listening(b.host, b.port):
            if find_mosquitto() is None:
                say(f"error: nothing listens on {b.host}:{b.port} and mosquitto is not installed: "
                    "apt-get install mosquitto, or pass --broker mqtt://127.0.0.1:PORT")
                return 2
            broker = Mosquitto(host="127.0.0.1", port=b.port)
            broker.start()
            say(f"started mosquitto on {url}")
    if stop.is_set():  # stopped while starting
        if broker is not None:
            broker.close()
        return 0
    try:
        sim = PlatformSim(url, config.node.site, ledger=Ledger(":memory:")).start()
    except ConnectionError as err:
        say(f"error: {err}")
        if broker is not None:
            broker.close()
        return 2
    say(f"platform simulator on {url}, site {config.node.site}; Ctrl-C stops")
    say(f"now run:  portedge pda --config {args.config}   and log in with badge D0001, PIN 1234")
    try:
        return serve(sim, args, say, stop)
    finally:
        sim.stop()
        if broker is not None:
            broker.close()
