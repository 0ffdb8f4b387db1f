"""A broker node dies under a lane and a PDA: a 3-node RabbitMQ cluster (quorum queues, MQTT
3.1.1), both nodes and a third, hung one on node A; A is killed (SIGKILL) mid-stream.

- the lane and the PDA move on (their failover list) and the platform's ledger, on node B,
  shows every record once, no seq gap;
- commands the platform sends during the move are each answered: ok, or `expired` when the
  command's expiry passed before the node got it (the contract: never acted on late);
- the hung node's will dies with node A (never published), and the platform calls it lost
  when its heartbeats stop.
"""

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

from agent.config.model import NodeConfig
from agent.contract.gate import LaneMode
from agent.link import Link
from agent.outbox import Outbox
from simulators.platform import PlatformSim

ROOT = Path(__file__).resolve().parents[2]
PER_NODE = 2000
HUNG = """
import asyncio, random, sys
from agent.config.model import NodeConfig
from agent.link import Link
from agent.outbox import Outbox
async def main():
    config = NodeConfig.model_validate({"node": {"id": "lane-9", "site": "yt", "role": "gate", "heartbeat_s": 0.3},
        "broker": {"urls": sys.argv[1].split(","), "mqtt_version": "3.1.1", "keepalive_s": 60},
        "storage": {"path": sys.argv[2]}})
    await Link(config, Outbox(config.storage.path, "lane-9"), rng=random.Random(1)).start()
    await asyncio.Event().wait()
asyncio.run(main())
"""


def node_config(node: str, role: str, urls: list[str], db: Path) -> NodeConfig:
    return NodeConfig.model_validate({
        "node": {"id": node, "site": "yt", "role": role, "heartbeat_s": 0.5},
        "broker": {"urls": urls, "mqtt_version": "3.1.1", "keepalive_s": 5},  # the default backoff
        "storage": {"path": str(db)},
    })


async def until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.allow_leaks  # the hung node's process is killed, never stopped
def test_node_a_killed_mid_stream(rabbit_cluster, tmp_path):
    a, b, _ = rabbit_cluster.nodes
    urls = rabbit_cluster.urls  # A first: every node starts on A
    sim = PlatformSim(b.url, "yt", mqtt_version="3.1.1", lost_after_s=2.0).start(timeout=30)
    hung = subprocess.Popen([sys.executable, "-c", HUNG, ",".join(urls), str(tmp_path / "lane-9.db")], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    put: dict[str, set[str]] = {"lane-1": set(), "pda-1": set()}
    answered_by_node: list[str] = []
    commands: list[tuple[str, float]] = []  # (correlation id, expires in s)

    async def lane_mode(cmd):
        answered_by_node.append(cmd.id)
        return LaneMode(lane=cmd.body.lane, mode=cmd.body.mode)

    async def scenario() -> dict:
        nodes = {}
        for name, role in (("lane-1", "gate"), ("pda-1", "pda")):
            outbox = Outbox(tmp_path / f"{name}.db", name)
            link = Link(node_config(name, role, urls, tmp_path / f"{name}.db"), outbox, rng=random.Random(len(name)))
            if role == "gate":
                link.register_command("lane_mode", lane_mode)
            await link.start()
            nodes[name] = (link, outbox)
        try:
            await until(lambda: all(link.connected for link, _ in nodes.values()), 30, "both nodes on node A")
            assert {link.broker for link, _ in nodes.values()} == {a.url}
            await until(lambda: sim.ledger.count("heartbeat", "lane-9") >= 2, 60, "the hung node's heartbeats")

            async def stream(name: str) -> None:
                outbox = nodes[name][1]
                for i in range(PER_NODE):
                    put[name].add((await outbox.aput("scan", {"device": "scanner-1", "data": f"{i:08d}"})).id)
                    if i % 20 == 0:
                        await asyncio.sleep(0.01)  # ~1,000 records/s per node: the kill lands mid-stream

            async def move() -> float:
                await until(lambda: sim.ledger.count("scan") >= PER_NODE // 2, 60, "records flowing")
                hung.send_signal(signal.SIGSTOP)  # a hung node: no beats, no goodbye, connection open
                await asyncio.to_thread(rabbit_cluster.kill, 1)  # node A dies
                killed = time.monotonic()
                for k in range(20):  # commands during the move, some with an expiry shorter than it
                    ttl = 0.3 if k % 2 else 30.0
                    cid = sim.send_command("lane-1", "lane_mode", {"lane": "lane-1", "mode": "manual"}, ttl_s=ttl)
                    commands.append((cid, ttl))
                    await asyncio.sleep(0.05)
                await until(lambda: all(link.connected and link.broker != a.url for link, _ in nodes.values()),
                            30, "both nodes on another broker node")
                return time.monotonic() - killed

            moved_s, *_ = await asyncio.gather(move(), stream("lane-1"), stream("pda-1"))
            everything = put["lane-1"] | put["pda-1"]
            await until(lambda: sim.ledger.ids("scan") >= everything, 60, "every record in the ledger")
            await until(lambda: sim.liveness("lane-9") == "lost", 10, "the hung node called lost")
            responses = [await asyncio.to_thread(sim.wait_response, cid, 30) for cid, _ in commands]
            return {"moved_s": moved_s, "responses": responses,
                    "where": {n: link.broker for n, (link, _) in nodes.items()},
                    "alive": {n: sim.liveness(n) for n in nodes}}
        finally:
            for link, outbox in nodes.values():
                await link.stop()
                outbox.close()

    try:
        seen = asyncio.run(scenario())
        state_lane9 = sim.node_states.get("lane-9")
    finally:
        hung.kill()
        hung.wait(10)
        sim.stop()
    print(f"moved off the dead node in {seen['moved_s']:.2f} s to {seen['where']}")
    for name in ("lane-1", "pda-1"):
        audit = sim.ledger.audit(name)
        scans = {i for i in put[name]}
        assert scans <= sim.ledger.ids("scan"), f"{name}: records lost"
        assert audit.gaps == [], f"{name}: seq gap {audit.gaps[:5]}"
    assert seen["alive"] == {"lane-1": "online", "pda-1": "online"}
    # the will of a client of the dead node is never published: liveness came from the silence
    assert state_lane9 is None or state_lane9["body"]["status"] != "lost", "a will arrived: nothing proven"
    for (cid, ttl), response in zip(commands, seen["responses"], strict=True):
        assert response is not None, f"command {cid} (expires in {ttl} s) never answered"
        if response["ok"]:
            continue
        assert response["error"]["code"] == "expired" and ttl < 1, f"refused: {response['error']}"
    assert any(r["ok"] for r in seen["responses"]), "no command went through the move"
