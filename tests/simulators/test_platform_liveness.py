"""Liveness without the will: the platform simulator calls a node lost when its heartbeats stop,
while the broker has not published (and may never publish) its will. The node here is a real
agent process frozen with SIGSTOP: its connection stays open, so mosquitto sends no will until
1.5 x keepalive; on a broker cluster whose node died, no will comes at all (tests/cluster)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators.platform import PlatformSim

ROOT = Path(__file__).resolve().parents[2]
NODE = """
import asyncio, random, sys
from agent.config.model import NodeConfig
from agent.link import Link
from agent.outbox import Outbox
async def main():
    config = NodeConfig.model_validate({"node": {"id": "lane-1", "site": "yt", "role": "gate", "heartbeat_s": 0.2},
        "broker": {"url": sys.argv[1], "keepalive_s": 60}, "storage": {"path": sys.argv[2]}})
    outbox = Outbox(config.storage.path, "lane-1")
    await Link(config, outbox, rng=random.Random(1)).start()
    await asyncio.Event().wait()
asyncio.run(main())
"""


def wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


@pytest.mark.allow_leaks  # the node process is killed, never stopped
def test_a_node_whose_heartbeats_stop_is_lost_before_any_will(mosquitto, tmp_path):
    sim = PlatformSim(mosquitto.url, "yt", lost_after_s=1.5).start()
    proc = subprocess.Popen([sys.executable, "-c", NODE, mosquitto.url, str(tmp_path / "lane.db")], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait(lambda: sim.ledger.count("heartbeat", "lane-1") >= 3, 60, "no heartbeats from the node")
        assert sim.liveness("lane-1") == "online" and sim.lost_nodes() == []
        proc.send_signal(signal.SIGSTOP)  # hung: the TCP connection stays, the beats stop
        frozen = time.monotonic()
        wait(lambda: sim.liveness("lane-1") == "lost", 10, "the silent node was never called lost")
        took = time.monotonic() - frozen
        assert sim.node_states["lane-1"]["body"]["status"] == "online", "the will came first: nothing proven"
        assert sim.lost_nodes() == ["lane-1"] and took < 5, f"lost after {took:.1f} s"
        assert sim.liveness("lane-1", now=time.time() - 10) == "online"  # the rule is the silence, not a flag
    finally:
        proc.kill()
        proc.wait(10)
        sim.stop()


def test_liveness_rules(mosquitto):
    sim = PlatformSim(mosquitto.url, "yt", lost_after_s=30)
    sim.node_states["n"] = {"body": {"status": "lost", "since": "2026-01-01T00:00:00+00:00"}}
    assert sim.liveness("n") == "lost" and sim.liveness("nobody") == "unknown"
    sim.node_states["n"] = {"body": {"status": "offline", "since": "2026-01-01T00:00:00+00:00"}}
    assert sim.liveness("n") == "offline"
    sim.node_states["n"] = {"body": {"status": "online", "since": "2026-01-01T00:00:00+00:00"}}
    assert sim.liveness("n") == "online"
