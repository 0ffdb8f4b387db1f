"""The command desk at its unit seam (a real outbox, no broker): what it answers, and where."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

from agent.clock import FakeClock
from agent.contract.topics import Kind, Topic
from agent.link.commands import CommandDesk
from agent.outbox import Outbox


def _desk(tmp_path):
    outbox = Outbox(tmp_path / "o.db", "lane-1")
    counts: Counter[str] = Counter()
    clock = FakeClock()
    desk = CommandDesk("yt", "lane-1", outbox, clock, lambda what: counts.update([what]))

    async def lane_mode(command):
        counts["executed"] += 1

    desk.register("lane_mode", lane_mode)
    return outbox, desk, counts, clock


def _command(clock: FakeClock, reply_to: str) -> bytes:
    return json.dumps({
        "id": "01JDCMD00000000000000000AB", "node": "lane-1", "ts": clock.now().isoformat(), "type": "lane_mode",
        "v": 1, "body": {"lane": "lane-1", "mode": "manual"}, "reply_to": reply_to, "correlation_id": "c-1",
        "expires_at": (clock.now() + timedelta(seconds=30)).isoformat()}).encode()


def test_deeply_nested_json_is_answered_as_invalid_json(tmp_path):
    outbox, desk, counts, _ = _desk(tmp_path)
    try:
        asyncio.run(desk.handle("lane_mode", b"[" * 100_000, {"CorrelationData": b"c-9"}))
        (row,) = outbox.next_batch(10)
        answer = json.loads(row.payload)
        assert answer["ok"] is False and answer["error"]["code"] == "invalid_json"
        assert answer["correlation_id"] == "c-9"
        assert counts["command_invalid_json"] == 1 and counts["command_internal"] == 0
    finally:
        outbox.close()


def test_a_reply_to_outside_the_nodes_subtree_is_answered_on_its_own_res_topic(tmp_path):
    """The broker's ACL refuses a node's publish outside its subtree; a refused row would block
    the link's window, so the answer goes where this node may write."""
    outbox, desk, counts, clock = _desk(tmp_path)
    try:
        asyncio.run(desk.handle("lane_mode", _command(clock, "portedge/v1/yt/lane-2/res/lane_mode"), {}))
        (row,) = outbox.next_batch(10)
        assert row.topic == str(Topic("yt", "lane-1", Kind.RES, "lane_mode"))
        assert json.loads(row.payload)["ok"] is True and counts["executed"] == 1
        assert counts["command_reply_to_outside_subtree"] == 1
    finally:
        outbox.close()


def test_a_command_without_an_id_is_refused_every_time_it_arrives(tmp_path):
    """A QoS 1 re-delivery of id-less bytes cannot be told from a new command: refused, never run."""
    outbox, desk, counts, clock = _desk(tmp_path)
    try:
        raw = json.loads(_command(clock, "portedge/v1/yt/lane-1/res/lane_mode"))
        del raw["id"]
        payload = json.dumps(raw).encode()

        async def twice():
            await desk.handle("lane_mode", payload, {})
            await desk.handle("lane_mode", payload, {})

        asyncio.run(twice())
        answers = [json.loads(r.payload) for r in outbox.next_batch(10)]
        assert counts["executed"] == 0
        assert [(a["ok"], a["error"]["code"]) for a in answers] == [(False, "invalid_schema")] * 2
        assert "id" in answers[0]["error"]["reason"] and answers[0]["correlation_id"] == "c-1"
    finally:
        outbox.close()
