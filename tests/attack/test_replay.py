"""Findings: a replayed `barrier_open` opened the barrier again (expires_at had no upper bound,
stored answers were pruned), and id-less bytes delivered twice ran twice. Through a real
mosquitto, a node's link and outbox: the platform (or whoever holds its bytes) replays, the
node answers and never runs a command a second time."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from agent.contract.envelope import utc_now
from agent.contract.topics import Kind, Topic, site_filter
from tests.link.conftest import collector_factory, node_config  # noqa: F401 - the fixture, used by name
from tests.link.test_link_session import run_node, until

TOPIC = str(Topic("yt", "lane-1", Kind.CMD, "lane_mode"))


def _command(cid: str | None, corr: str, *, expires_in: float = 30.0) -> bytes:
    now = utc_now()
    raw = {"id": cid, "node": "lane-1", "ts": now.isoformat(), "type": "lane_mode", "v": 1,
           "body": {"lane": "lane-1", "mode": "manual"}, "reply_to": "portedge/v1/yt/lane-1/res/lane_mode",
           "correlation_id": corr, "expires_at": (now + timedelta(seconds=expires_in)).isoformat()}
    if cid is None:
        del raw["id"]
    return json.dumps(raw).encode()


def test_replays_and_id_less_redeliveries_never_run_a_command_twice(mosquitto, collector_factory, tmp_path):  # noqa: F811
    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.RES)])
    config = node_config(mosquitto.url, tmp_path / "o.db")
    runs: list[str] = []

    async def lane_mode(cmd):
        runs.append(cmd.correlation_id)

    once = _command("01JDCMD00000000000000000R1", "c-once")
    far = _command("01JDCMD00000000000000000R2", "c-far", expires_in=3 * 86400)  # outlives any stored answer
    anonymous = _command(None, "c-anon")
    sends = [once, once, far, far, anonymous, anonymous, once]

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="connect")
        await asyncio.sleep(0.2)  # SUBACK
        for payload in sends:
            await asyncio.to_thread(collector.publish, TOPIC, payload)
            await asyncio.sleep(0.1)  # answers in a known order
        await until(lambda: len(collector.payloads("/res/")) >= len(sends), what="every answer")

    run_node(config, scenario, handlers={"lane_mode": lane_mode})
    answers = collector.payloads("/res/")
    outcome = [(a["correlation_id"], a["ok"], (a["error"] or {}).get("code")) for a in answers]
    assert outcome == [("c-once", True, None)] * 2 + [("c-far", False, "refused")] * 2 + \
        [("c-anon", False, "invalid_schema")] * 2 + [("c-once", True, None)]
    assert runs == ["c-once"], "a command ran more than once, or a refused one ran"
    assert len({a["id"] for a in answers if a["correlation_id"] == "c-once"}) == 1, "one answer, sent again"
