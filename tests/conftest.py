"""Shared fixtures: a real mosquitto per test, and a guard against leaked threads and sockets."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time

import pytest

from simulators.mosquitto import Mosquitto, find_mosquitto


@pytest.fixture
def mosquitto(tmp_path):
    """A real mosquitto on a free loopback port; `.url`, `.port`, `.restart()`, `.stop()`."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run ./dev test (installs it as root) or apt-get install mosquitto")
    broker = Mosquitto(workdir=tmp_path / "mosquitto")
    (tmp_path / "mosquitto").mkdir(exist_ok=True)
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def mosquitto_factory(tmp_path):
    """Build brokers with TLS, passwords or ACLs: `mosquitto_factory(tls=..., passwords=...)`."""
    made: list[Mosquitto] = []

    def make(**kwargs) -> Mosquitto:
        folder = tmp_path / f"mosquitto-{len(made)}"
        folder.mkdir()
        broker = Mosquitto(workdir=folder, **kwargs)
        made.append(broker)
        return broker.start()

    yield make
    for broker in made:
        broker.close()


def _sockets() -> int:
    count = 0
    try:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    count += 1
            except OSError:
                pass
    except OSError:
        return 0
    return count


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Fail a test that leaves threads, asyncio tasks or sockets behind (after a short grace)."""
    if request.node.get_closest_marker("allow_leaks"):
        yield
        return
    threads_before = set(threading.enumerate())
    sockets_before = _sockets()
    yield
    # pytest keeps fixture values in item.funcargs until after this teardown; every other
    # fixture is finalised by now, so drop those references to let clients be collected.
    funcargs = getattr(request.node, "funcargs", None)
    if isinstance(funcargs, dict):
        funcargs.clear()
    deadline = time.monotonic() + 3.0
    while True:
        gc.collect()  # paho keeps a wake-up socket pair until the client object is collected
        leaked = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        extra_sockets = _sockets() - sockets_before
        if (not leaked and extra_sockets <= 0) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()] if not loop.is_closed() else []
    except RuntimeError:
        pending = []
    problems = []
    if leaked:
        problems.append(f"threads left running: {[t.name for t in leaked]}")
    if extra_sockets > 0:
        problems.append(f"{extra_sockets} socket(s) left open")
    if pending:
        problems.append(f"asyncio tasks left pending: {pending}")
    if problems:
        pytest.fail("leak check: " + "; ".join(problems), pytrace=False)
