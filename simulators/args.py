"""Argument types for the simulators' commands: a bad value is a usage error (argparse prints
`portedge ...: error: argument --x: reason` and exits 2) before anything starts."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit


def broker_url(text: str) -> str:
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname or not port:
        raise argparse.ArgumentTypeError(f"must look like mqtt://127.0.0.1:1883, not {text!r}")
    return text


def _number(text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def share(text: str) -> float:
    value = _number(text, float)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def reachable(url: str) -> None:
    """Fail fast (exit 1, one line) when a broker URL names a broker nobody answers on."""
    import socket

    from agent.errors import RemoteError

    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=3).close()
    except OSError as err:
        raise RemoteError(f"broker {url} is not reachable: {err.strerror or err}") from None


def stop_on_signals():
    """A threading.Event that Ctrl-C and SIGTERM set; install it before anything starts, so a
    signal never meets the default handler (a traceback, or children left running)."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop
