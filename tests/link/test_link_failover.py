"""The failover list (`[broker] urls`) against two real mosquittos that share nothing: the
second broker never held the node's session, so the node must subscribe again and send
again what its outbox still holds - nothing lost, same ids, no seq gap - and say where it is."""

from __future__ import annotations

import asyncio
import random

import pytest

from agent.config.model import NodeConfig
from agent.contract.gate import LaneMode
from agent.contract.topics import Kind, site_filter
from agent.link import Link
from agent.outbox import Outbox
from tests.link.test_link_delivery import check_stream
from tests.link.test_link_session import command

N = 3000


def failover_config(urls: list[str], db, **broker) -> NodeConfig:
    return NodeConfig.model_validate({
        "node": {"id": "lane-1", "site": "yt", "role": "gate", "heartbeat_s": 3600},
        "broker": {"urls": urls, "reconnect_base_s": 0.05, "reconnect_cap_s": 0.5, "keepalive_s": 5,
                   "inflight": 50, **broker},
        "storage": {"path": str(db)},
    })


async def until(pred, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def test_the_node_moves_to_the_next_broker_and_resends_what_the_new_one_never_saw(mosquitto_factory,
                                                                                 collector_factory, tmp_path):
    a, b = mosquitto_factory(), mosquitto_factory()
    on_a = collector_factory(a.port, [site_filter("yt", Kind.EVT), site_filter("yt", Kind.STATE)], client_id="p-a")
    on_b = collector_factory(b.port, [site_filter("yt", Kind.EVT), site_filter("yt", Kind.STATE),
                                      "portedge/v1/yt/lane-1/res/#"], client_id="p-b")
    config = failover_config([a.url, b.url], tmp_path / "lane.db")
    put_ids: set[str] = set()
    answers: list[str] = []

    async def handler(cmd):
        answers.append(cmd.id)
        return LaneMode(lane=cmd.body.lane, mode=cmd.body.mode)

    async def scenario() -> dict:
        outbox = Outbox(config.storage.path, config.node.id)
        link = Link(config, outbox, rng=random.Random(5))
        link.register_command("lane_mode", handler)
        await link.start()
        try:
            await until(lambda: link.connected, 10, "connect to the first broker")
            assert link.broker == a.url
            for i in range(N):
                put_ids.add((await outbox.aput("scan", {"device": "scanner-1", "data": f"{i:08d}"})).id)
                if i == N // 3:
                    await until(lambda: on_a.payloads("/evt/"), 10, "records on broker A")
                    await asyncio.to_thread(a.stop)  # broker A goes away mid-stream
            await asyncio.to_thread(on_b.wait, lambda: {p["id"] for p in on_b.payloads("/evt/")} |
                                    {p["id"] for p in on_a.payloads("/evt/")} >= put_ids, 60,
                                    "not every record reached a broker")
            assert link.connected and link.broker == b.url, "the node is not on the second broker"
            # the new broker never had the session: commands reach the node only if it subscribed again
            await asyncio.to_thread(on_b.publish, "portedge/v1/yt/lane-1/cmd/lane_mode",
                                    command("lane_mode", {"lane": "lane-1", "mode": "auto"}))
            await until(lambda: on_b.payloads("/res/"), 10, "an answer through the second broker")
            return {"health": link.health(), "connects": link.connects}
        finally:
            await link.stop()
            outbox.close()

    seen = asyncio.run(scenario())
    assert seen["health"].broker == b.url and seen["connects"] >= 2
    result = check_stream(on_a.payloads("/evt/") + on_b.payloads("/evt/"), put_ids)
    assert result["unique"] == N
    births_b = [s for s in on_b.payloads("/state") if s["body"]["status"] == "online"]
    assert births_b and births_b[0]["body"]["health"]["broker"] == b.url, "the retained state does not say where"


def test_url_and_urls(tmp_path):
    one = NodeConfig.model_validate({"node": {"id": "n", "site": "s", "role": "pda"},
                                     "broker": {"url": "mqtt://127.0.0.1:1999"}})
    assert one.broker.addresses == ["mqtt://127.0.0.1:1999"]
    many = failover_config(["mqtt://127.0.0.1:1", "mqtt://127.0.0.1:2"], tmp_path / "x.db")
    assert many.broker.addresses == ["mqtt://127.0.0.1:1", "mqtt://127.0.0.1:2"] and many.broker.port == 1
    for urls, says in ((["mqtt://127.0.0.1:1", "mqtts://127.0.0.1:2"], "same scheme"),
                       (["mqtt://127.0.0.1:1", "mqtt://127.0.0.1:1"], "listed twice"),
                       (["mqtt://127.0.0.1:1", "http://x"], "[1] 'http://x': broker URL must start with"),
                       ([], "at least 1")):
        with pytest.raises(ValueError) as err:
            failover_config(urls, tmp_path / "x.db")
        assert says in str(err.value), str(err.value)
    with pytest.raises(ValueError) as err:
        NodeConfig.model_validate({"node": {"id": "n", "site": "s", "role": "pda"},
                                   "broker": {"url": "mqtt://127.0.0.1:1", "urls": ["mqtt://127.0.0.1:2"]}})
    assert "url or urls, not both" in str(err.value)
