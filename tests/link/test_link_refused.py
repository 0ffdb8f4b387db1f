"""A publish the broker refuses for good (not authorised) must not block the link: the row is
parked in a dead-letter file beside the outbox (never lost), and the records behind it flow."""

from __future__ import annotations

import asyncio
import json
import random

from agent.contract.topics import Kind, site_filter
from agent.link import Link
from agent.outbox import Outbox
from tests.link.conftest import node_config

USERS = {"lane-1": "pw-1", "platform": "pw-p"}
# lane-1 may publish its state and scans, but not weights: every weight is refused (MQTT 5 0x87)
ACL = ["user lane-1", "topic write portedge/v1/yt/lane-1/state", "topic write portedge/v1/yt/lane-1/evt/scan",
       "topic read portedge/v1/yt/lane-1/cmd/#", "topic read portedge/v1/yt/lane-1/rsp/#",
       "user platform", "topic read portedge/v1/#"]


def test_refused_rows_are_parked_and_do_not_block_the_window(mosquitto_factory, collector_factory, tmp_path):
    broker = mosquitto_factory(passwords=USERS, acl=ACL)
    collector = collector_factory(broker.port, [site_filter("yt", Kind.EVT)], username="platform", password="pw-p")
    config = node_config(broker.url, tmp_path / "lane.db", username="lane-1", password="pw-1", inflight=4)

    async def scenario() -> tuple[Link, Outbox]:
        outbox = Outbox(config.storage.path, config.node.id)
        link = Link(config, outbox, rng=random.Random(1))
        for i in range(6):  # more refused rows than the window holds, queued first
            await outbox.aput("weight", {"device": "scale-1", "value": 1000.0 + i, "unit": "kg", "mode": "gross",
                                         "stable": True}, "transactional")
        for i in range(3):
            await outbox.aput("scan", {"device": "scanner-1", "data": f"S{i}"}, "transactional")
        await link.start()
        try:
            for _ in range(200):
                if len(collector.payloads("/evt/scan")) == 3 and outbox.stats().depth == 0:
                    break
                await asyncio.sleep(0.05)
            health = link.health()
        finally:
            await link.stop()
            outbox.close()
        return health

    health = asyncio.run(scenario())
    assert [p["body"]["data"] for p in collector.payloads("/evt/scan")] == ["S0", "S1", "S2"]
    assert collector.payloads("/evt/weight") == []
    parked = [json.loads(line) for line in (tmp_path / "lane.db.parked.jsonl").read_text().splitlines()]
    assert sorted(json.loads(p["payload"])["body"]["value"] for p in parked) == [1000.0 + i for i in range(6)]
    assert all("refused" in p["reason"] for p in parked)
    assert any("refused" in r for r in health.degraded), health.degraded
