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


def _desk_at(path, clock: FakeClock, counts: Counter[str]):
    outbox = Outbox(path, "lane-1", clock=clock)
    desk = CommandDesk("yt", "lane-1", outbox, clock, lambda what: counts.update([what]))

    async def lane_mode(command):
        counts["executed"] += 1

    desk.register("lane_mode", lane_mode)
    return outbox, desk


def _answers(outbox: Outbox) -> list[dict]:
    return [json.loads(r.payload) for r in outbox.next_batch(100)]


def test_a_command_expiring_too_far_ahead_is_refused_and_not_run(tmp_path):
    """Its stored answer could be gone before it expires; a replay would then run it again."""
    counts: Counter[str] = Counter()
    clock = FakeClock()
    outbox, desk = _desk_at(tmp_path / "o.db", clock, counts)
    try:
        far = json.loads(_command(clock, "portedge/v1/yt/lane-1/res/lane_mode"))
        far["expires_at"] = (clock.now() + timedelta(days=3)).isoformat()
        asyncio.run(desk.handle("lane_mode", json.dumps(far).encode(), {}))
        [answer] = _answers(outbox)
        assert answer["ok"] is False and answer["error"]["code"] == "refused"
        assert "max_ttl_s" in answer["error"]["reason"] and counts["executed"] == 0
    finally:
        outbox.close()


def test_a_stored_answer_survives_the_outbox_being_moved_aside(tmp_path, monkeypatch):
    """Replay after the damaged file was moved aside: answered from the carried-over answer."""
    from agent import storage

    counts: Counter[str] = Counter()
    clock = FakeClock()
    db = tmp_path / "o.db"
    payload = _command(clock, "portedge/v1/yt/lane-1/res/lane_mode")
    outbox, desk = _desk_at(db, clock, counts)
    try:
        asyncio.run(desk.handle("lane_mode", payload, {}))
        [first] = _answers(outbox)
    finally:
        outbox.close()
    real_check = storage.quick_check

    def damaged_once(conn, path):
        monkeypatch.setattr(storage, "quick_check", real_check)
        raise storage.CorruptDatabase(path, "quick_check: page 3 is damaged")  # the unit seam: no real bit rot

    monkeypatch.setattr(storage, "quick_check", damaged_once)
    clock.advance(5)
    outbox, desk = _desk_at(db, clock, counts)
    try:
        assert outbox.corrupt_moved_to and outbox.answers_lost_at is None
        asyncio.run(desk.handle("lane_mode", payload, {}))
        [again] = [a for a in _answers(outbox) if a["correlation_id"] == "c-1"]
        assert counts["executed"] == 1 and counts["command_duplicate"] == 1
        assert (again["ok"], again["id"]) == (True, first["id"])
    finally:
        outbox.close()


def test_a_command_made_before_the_answers_were_lost_is_refused(tmp_path):
    """A damaged file whose answers cannot be read: commands made before the move may have run."""
    counts: Counter[str] = Counter()
    clock = FakeClock()
    db = tmp_path / "o.db"
    before = _command(clock, "portedge/v1/yt/lane-1/res/lane_mode")
    db.write_bytes(b"this is not sqlite" * 500)
    clock.advance(2)
    outbox, desk = _desk_at(db, clock, counts)
    try:
        assert outbox.answers_lost_at == clock.now()
        asyncio.run(desk.handle("lane_mode", before, {}))
        after = json.loads(_command(clock, "portedge/v1/yt/lane-1/res/lane_mode"))
        after["id"] = "01JDCMD00000000000000000AC"
        asyncio.run(desk.handle("lane_mode", json.dumps(after).encode(), {}))
        refused, ran = _answers(outbox)
        assert refused["ok"] is False and refused["error"]["code"] == "refused" and "lost" in refused["error"]["reason"]
        assert ran["ok"] is True and counts["executed"] == 1
    finally:
        outbox.close()
    with Outbox(db, "lane-1", clock=clock) as reopened:
        assert reopened.answers_lost_at == clock.now(), "the mark is durable"


def test_a_flood_is_answered_busy_beyond_the_bounded_queue_and_nothing_runs_twice(tmp_path):
    """At most `concurrency` commands run and `queue` wait; the rest are answered busy at once."""
    from agent.config.model import CommandsSection

    async def scenario() -> None:
        clock = FakeClock()
        outbox = Outbox(tmp_path / "o.db", "lane-1", clock=clock)
        counts: Counter[str] = Counter()
        desk = CommandDesk("yt", "lane-1", outbox, clock, lambda what: counts.update([what]),
                           CommandsSection(concurrency=2, queue=3))
        release = asyncio.Event()

        async def lane_mode(command):
            counts["executed"] += 1
            await release.wait()

        desk.register("lane_mode", lane_mode)
        try:
            raw = json.loads(_command(clock, "portedge/v1/yt/lane-1/res/lane_mode"))
            for n in range(40):
                desk.submit("lane_mode", json.dumps({**raw, "id": f"cmd-{n:02d}", "correlation_id": f"c-{n:02d}"}).encode(), {})
            assert desk.waiting == 5  # 2 about to run, 3 waiting; 35 busy
            for _ in range(50):
                await asyncio.sleep(0.02)
                if counts["command_busy"] == 35:
                    break
            assert counts["executed"] == 2, "two at once"
            release.set()
            await asyncio.sleep(0.3)
            answers = {a["correlation_id"]: a for a in (json.loads(r.payload) for r in outbox.next_batch(100))}
            ok = sorted(c for c, a in answers.items() if a["ok"])
            busy = sorted(c for c, a in answers.items() if not a["ok"] and a["error"]["code"] == "busy")
            assert ok == [f"c-{n:02d}" for n in range(5)] and counts["executed"] == 5
            assert busy == [f"c-{n:02d}" for n in range(5, 40)]
            assert outbox.answer_for("cmd-07") is None, "a busy command is not remembered: it may come again"
        finally:
            await desk.close()
            outbox.close()

    asyncio.run(scenario())


def test_on_a_link_busy_answers_go_out_at_once_without_the_outbox(tmp_path):
    """A busy answer is advice, not a record: no commit, no row, seq 0; still a valid Response."""
    from agent.config.model import CommandsSection
    from agent.contract.envelope import Response

    async def scenario() -> None:
        clock = FakeClock()
        outbox = Outbox(tmp_path / "o.db", "lane-1", clock=clock)
        counts: Counter[str] = Counter()
        sent: list[tuple[str, bytes, str]] = []
        desk = CommandDesk("yt", "lane-1", outbox, clock, lambda what: counts.update([what]),
                           CommandsSection(concurrency=1, queue=0),
                           send_now=lambda topic, payload, corr: sent.append((topic, payload, corr)) is None)
        release = asyncio.Event()

        async def lane_mode(command):
            await release.wait()

        desk.register("lane_mode", lane_mode)
        try:
            raw = json.loads(_command(clock, "portedge/v1/yt/lane-1/res/lane_mode"))
            for n in range(5):
                desk.submit("lane_mode", json.dumps({**raw, "id": f"cmd-{n}", "correlation_id": f"c-{n}"}).encode(), {})
            for _ in range(50):
                await asyncio.sleep(0.01)
                if len(sent) == 4:
                    break
            answers = [Response.model_validate_json(payload) for _, payload, _ in sent]
            assert [(a.correlation_id, a.error.code, a.seq) for a in answers] == [(f"c-{n}", "busy", 0) for n in range(1, 5)]
            assert {t for t, _, _ in sent} == {"portedge/v1/yt/lane-1/res/lane_mode"}
            assert outbox.next_batch(10) == [] and counts["command_busy"] == 4
            release.set()
        finally:
            await desk.close()
            outbox.close()

    asyncio.run(scenario())


def test_closing_lets_a_running_command_finish_and_takes_no_more(tmp_path):
    """The node stops: a command already running is carried out and answered (within the
    grace), one arriving after the close is neither run nor answered (the platform sends it again)."""
    outbox, desk, counts, clock = _desk(tmp_path)
    started = asyncio.Event()

    async def slow(command):
        started.set()
        await asyncio.sleep(0.2)
        counts["executed"] += 1

    desk.register("lane_mode", slow)
    reply = "portedge/v1/yt/lane-1/res/lane_mode"

    async def scenario():
        desk.submit("lane_mode", _command(clock, reply), {})
        await started.wait()
        closing = asyncio.create_task(desk.close(grace_s=5.0))
        await asyncio.sleep(0)
        desk.submit("lane_mode", _command(clock, reply).replace(b"0AB", b"0AC"), {})
        await closing

    try:
        asyncio.run(scenario())
        answers = [json.loads(r.payload) for r in outbox.next_batch(10)]
        assert counts["executed"] == 1 and counts["command_not_taken"] == 1
        assert [a["ok"] for a in answers] == [True]
    finally:
        outbox.close()


def test_a_held_desk_runs_nothing_until_opened(tmp_path):
    outbox, desk, counts, clock = _desk(tmp_path)
    reply = "portedge/v1/yt/lane-1/res/lane_mode"

    async def scenario():
        desk.hold()
        desk.submit("lane_mode", _command(clock, reply), {})
        await asyncio.sleep(0.1)
        assert counts["executed"] == 0 and desk.waiting == 1
        desk.open()
        async with asyncio.timeout(5):
            while counts["executed"] == 0 or outbox.stats().depth == 0:
                await asyncio.sleep(0.01)
        await desk.close()

    try:
        asyncio.run(scenario())
        assert counts["executed"] == 1
    finally:
        outbox.close()
