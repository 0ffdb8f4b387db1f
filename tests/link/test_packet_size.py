"""A broker with a Maximum Packet Size below the batch byte cap: batches shrink to fit (MQTT 5
tells the limit in CONNACK), MQTT 3.1.1 falls back to one record per message after the drop, and
a record that can never fit is parked with its reason instead of dropping the link forever.
Real mosquitto with `max_packet_size 4096`."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from agent.contract.batch import records
from agent.contract.devices import Scan
from agent.contract.topics import Kind, site_filter
from agent.link import Link
from agent.outbox import Outbox
from tests.link.conftest import node_config

LIMIT = 4096


def _drain(config, datas: list[str]) -> tuple[Link, int, list[str]]:
    """Put `datas`, run the link until the outbox is empty (or 15 s): the link, the depth left
    and the link's degraded reasons at the end."""
    async def scenario() -> tuple[Link, int, list[str]]:
        outbox = Outbox(config.storage.path, config.node.id)
        for data in datas:
            await outbox.aput("scan", Scan(device="scanner-1", data=data))
        link = Link(config, outbox, rng=random.Random(3))
        await link.start()  # every record already waiting: the packer would put them in one batch
        try:
            for _ in range(750):
                if outbox.stats().depth == 0:
                    break
                await asyncio.sleep(0.02)
            return link, outbox.stats().depth, link.health().degraded
        finally:
            await link.stop()
            outbox.close()

    return asyncio.run(scenario())


@pytest.mark.parametrize("version", ["5", "3.1.1"])
def test_batches_over_the_brokers_packet_size_do_not_block_the_link(mosquitto_factory, collector_factory,
                                                                    tmp_path, version):
    broker = mosquitto_factory(extra=[f"max_packet_size {LIMIT}"])
    collector = collector_factory(broker.port, [site_filter("yt", Kind.EVT)])
    config = node_config(broker.url, tmp_path / "lane.db", version=version)
    datas = [f"{i:03d}" + "x" * 480 for i in range(10)]  # ~600 bytes stored each: ~6 KB as one batch

    link, depth, _ = _drain(config, datas)
    assert depth == 0, f"{depth} records still waiting after {link.connects} connects"
    got = [r["body"]["data"] for _t, raw in collector.messages for r in records(json.loads(raw))]
    assert sorted(set(got)) == datas
    if version == "5":  # the limit came in CONNACK: no batch was ever too big
        assert link.connects == 1
        assert any(raw.startswith(b'{"batch":') for _t, raw in collector.messages), "no batching left at all"
    else:  # one drop, then the rows of the batch on the wire go one per message
        assert link.connects <= 3


def test_a_record_over_the_brokers_packet_size_is_parked_with_its_reason(mosquitto_factory, collector_factory, tmp_path):
    broker = mosquitto_factory(extra=[f"max_packet_size {LIMIT}"])
    collector = collector_factory(broker.port, [site_filter("yt", Kind.EVT)])
    config = node_config(broker.url, tmp_path / "lane.db")
    datas = ["small-1", "y" * 4090, "small-2"]

    link, depth, degraded = _drain(config, datas)
    assert depth == 0
    assert link.connects == 1, "the broker dropped the link for an oversize packet"
    got = [r["body"]["data"] for _t, raw in collector.messages for r in records(json.loads(raw))]
    assert sorted(got) == ["small-1", "small-2"]
    parked = [json.loads(line) for line in (tmp_path / "lane.db.parked.jsonl").read_text().splitlines()]
    assert [p["seq"] for p in parked] == [2]
    assert "Maximum Packet Size" in parked[0]["reason"] and str(LIMIT) in parked[0]["reason"]
    assert link._errors["record_too_large"] == 1
    assert any("Maximum Packet Size" in reason for reason in degraded), degraded


def test_the_packer_counts_the_packets_own_bytes_under_the_brokers_limit():
    """Unit: each batch's whole PUBLISH packet (header, topic, properties, payload) fits the limit
    the broker told; without a limit only the class's max_bytes caps the payload."""
    from agent.config.model import LinkSection
    from agent.link.batching import Packer, packet_bytes
    from agent.outbox import Row

    rows = [Row(i, f"id{i}", i, "transactional", "evt", "scan", None, "scan", b'{"pad":"%s"}' % (b"x" * 490), 0.0,
                None, None, None) for i in range(1, 41)]
    topic = "portedge/v1/yt/lane-1/evt/scan"
    packer = Packer(LinkSection().batch)
    for limit in (600, 1200, 4096, 4096 + 37):
        out = packer.plan(rows, lambda r: topic, lambda r: None, max_packet=limit)
        assert [rid for m in out for rid in m.rids] == list(range(1, 41))
        batches = [m for m in out if len(m.rids) > 1]
        assert all(packet_bytes(m.topic, len(m.payload), None) <= limit for m in batches)
        if limit >= 1200:
            assert batches, "nothing batched under a limit that holds two records"
    assert len(packer.plan(rows, lambda r: topic, lambda r: None)) == 1
