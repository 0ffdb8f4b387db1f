"""A publish the broker refuses for good (not authorised) must not block the link: the row is
parked in a dead-letter file beside the outbox (never lost), and the records behind it flow."""

from __future__ import annotations

import asyncio
import json
import random
import threading

from agent.contract.topics import Kind, site_filter
from agent.link import Link
from agent.link.net import PublishRefused
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


def test_a_transient_refusal_is_retried_and_a_final_one_parks_each_record_after_it_went_alone(tmp_path):
    """MQTT 5 PUBACK reason codes at the link's seam (the network thread's PublishRefused event,
    real outbox): quota exceeded (0x97), unspecified (0x80) and implementation specific (0x83)
    refusals hand the rows out again after a backoff, never park them; a batch refused for good
    (0x87 not authorised) has its rows sent one per message first, and only a record refused
    alone is parked, written off the event loop."""
    config = node_config("mqtt://127.0.0.1:9", tmp_path / "lane.db", reconnect_base_s=0.05, reconnect_cap_s=0.2)

    async def scenario() -> None:
        outbox = Outbox(config.storage.path, config.node.id)
        parked_on: list[str] = []
        park = outbox.park

        def watch(rids, reason):
            parked_on.append(threading.current_thread().name)
            return park(rids, reason)

        outbox.park = watch  # type: ignore[method-assign]
        try:
            for i in range(6):
                await outbox.aput("scan", {"device": "scanner-1", "data": f"S{i}"}, "transactional")
            link = Link(config, outbox, rng=random.Random(1))
            link._loop, link._wake, link._gone = asyncio.get_running_loop(), asyncio.Event(), asyncio.Event()
            rows = outbox.next_batch(10)
            rid = [r.rid for r in rows]
            link._inflight.update(rid)
            for code, name in ((0x97, "Quota exceeded"), (0x80, "Unspecified error"),
                               (0x83, "Implementation specific error")):
                link._handle(PublishRefused((rid[0], rid[1]), name, code))
                assert outbox.next_batch(10) == [], "released before the backoff"
                for _ in range(250):
                    again = outbox.next_batch(10)
                    if again:
                        break
                    await asyncio.sleep(0.02)
                assert [r.rid for r in again] == rid[:2], f"{name}: not handed out again"
                link._inflight.update(rid[:2])
            link._handle(PublishRefused(tuple(rid[2:5]), "Not authorized", 0x87))  # a batch of three
            again = outbox.next_batch(10)
            assert [r.rid for r in again] == rid[2:5], "a batch refused for good is tried again, one per message"
            plan = link._packer.plan(again, lambda r: "evt/scan", lambda r: None, alone=link._solo)
            assert [m.rids for m in plan] == [(rid[2],), (rid[3],), (rid[4],)]
            link._inflight.update(rid[2:5])
            link._handle(PublishRefused((rid[2],), "Not authorized", 0x87))  # refused alone: parked
            for _ in range(250):
                if outbox.stats().depth == 5:
                    break
                await asyncio.sleep(0.02)
            assert outbox.stats().depth == 5
            assert parked_on and threading.main_thread().name not in parked_on, "parked on the event loop"
            assert link._refused == 1
        finally:
            outbox.close()
        parked = [json.loads(line) for line in (tmp_path / "lane.db.parked.jsonl").read_text().splitlines()]
        assert [p["seq"] for p in parked] == [3]

    asyncio.run(scenario())
