"""The platform side scales out: three `portedge sim platform --share` processes split a node's
records through MQTT 5 shared subscriptions on a real mosquitto and dedupe them in one ledger
file; one is killed (SIGKILL) mid-run and replaced under the same client id. Nothing is lost,
the node's seq has no gap, and every record was processed (recorded) once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.link import Link
from agent.outbox import Outbox
from simulators.platform.ledger import Ledger
from tests.link.conftest import node_config

ROOT = Path(__file__).resolve().parents[2]
N = 1500


def consumer(url: str, ledger: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "agent", "sim", "platform", "--broker", url, "--site", "yt",
                             "--share", "platform", "--client-id", name, "--ledger", str(ledger)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def subscribed(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:  # "platform simulator on ..." once its subscriptions are acknowledged
        if line.startswith("platform simulator on"):
            return
    raise AssertionError(f"a consumer did not start (exit {proc.wait(10)})")


def wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


@pytest.mark.slow  # four Python process starts: seconds each on a loaded machine
def test_three_consumers_one_killed_nothing_lost_nothing_twice(mosquitto, tmp_path):
    path = tmp_path / "ledger.db"
    Ledger(path).close()  # made once, before three processes open it
    procs = {name: consumer(mosquitto.url, path, name) for name in ("platform-1", "platform-2", "platform-3")}
    for proc in procs.values():  # started together: a Python start is seconds on a loaded machine
        subscribed(proc)
    ledger = Ledger(path)
    config = node_config(mosquitto.url, tmp_path / "lane.db", inflight=20)
    put_ids: set[str] = set()

    async def node() -> None:
        outbox = Outbox(config.storage.path, config.node.id)
        link = Link(config, outbox, rng=random.Random(2))
        await link.start()
        try:
            for i in range(N):
                put_ids.add((await outbox.aput("scan", {"device": "scanner-1", "data": f"{i:08d}"})).id)
                if i % 50 == 0:
                    await asyncio.sleep(0.02)  # a steady stream, so the kill lands mid-run
                if i == N // 3:
                    await asyncio.to_thread(wait, lambda: ledger.count("scan") >= N // 6, 30, "records flowing")
                    procs["platform-2"].send_signal(signal.SIGKILL)  # a consumer dies, no goodbye
                    procs["platform-2"].wait(10)
                if i == N // 2:  # its replacement, same client id: it drains the dead one's share
                    procs["platform-2"] = consumer(mosquitto.url, path, "platform-2")
            await asyncio.to_thread(wait, lambda: ledger.ids("scan") >= put_ids, 60,
                                    "not every record reached the platform")
        finally:
            await link.stop()
            outbox.close()

    try:
        asyncio.run(node())
        shares = ledger.by_consumer()
        audit = ledger.audit("lane-1")
        recorded = ledger.count("scan")
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(20)
            proc.stdout.close()
        ledger.close()
    assert recorded == N, f"{recorded} records in the ledger for {N} put: something processed twice or lost"
    assert audit.gaps == [] and (audit.first_seq, audit.last_seq) == (1, N)
    assert set(shares) == {"platform-1", "platform-2", "platform-3"}, f"the load was not split: {shares}"
    assert sum(shares.values()) == N and min(shares.values()) > N // 10, f"uneven split: {shares}"
