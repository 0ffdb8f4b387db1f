"""The clerk's actions through the lane's table and barrier guard: each done or refused with a
reason, audited (awaited) and published as a staff_action record."""

from __future__ import annotations

import json

from agent.audit import AuditLog, verify_lines
from agent.gate.events import State
from agent.gate.staff import StaffDesk

from .fakes import BAD_CHECK, BOX, OTHER_BOX


def _desk(rig, tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl", "lane-1", clock=rig.clock)
    return StaffDesk(rig.station, audit), audit


def _audit(tmp_path) -> list[dict]:
    raw = (tmp_path / "audit.jsonl").read_bytes()
    assert verify_lines(raw.splitlines(keepends=True)).ok
    return [json.loads(x) for x in raw.splitlines()]


def test_a_misread_box_corrected_goes_to_the_platform_and_opens(play, tmp_path):
    outcomes = []

    async def scenario(rig):
        desk, audit = _desk(rig, tmp_path)
        await rig.io()
        await rig.io(approach=True)
        await rig.plate()
        await rig.box("front", text=BAD_CHECK)
        await rig.box("rear")
        assert rig.lane.state is State.TROUBLE
        outcomes.append(await desk.correct("G0042", "front", "csqu 305438 3", "camera misread the last digit"))
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN and rig.runner.guard.want_open
        audit.close()

    rig = play(scenario)
    [done] = outcomes
    assert done.done and done.audit_seq is not None
    assert rig.platform.requests[-1].containers == [BOX]
    [action] = rig.recorder.of("staff_action")
    assert action.outcome == "done" and action.detail == {"position": "front", "number": BOX}
    assert action.audit_seq == done.audit_seq
    staff = [e for e in _audit(tmp_path) if e["kind"] == "staff"]
    assert staff[0]["actor"] == "G0042" and staff[0]["what"] == "correct_container"


def test_an_invalid_correction_is_refused_before_the_lane(play, tmp_path):
    outcomes = []

    async def scenario(rig):
        desk, audit = _desk(rig, tmp_path)
        await rig.io()
        await rig.io(approach=True)
        await rig.plate()
        await rig.box("front", text=BAD_CHECK)
        outcomes.append(await desk.correct("G0042", "front", BAD_CHECK, "typo"))
        assert rig.lane.state is State.TROUBLE
        audit.close()

    rig = play(scenario)
    assert not outcomes[0].done and "ISO 6346" in outcomes[0].reason
    assert rig.recorder.of("staff_action")[0].outcome == "refused"


def test_staff_deny_keeps_the_barrier_down_and_ends_as_denied(play, tmp_path):
    async def scenario(rig):
        desk, audit = _desk(rig, tmp_path)
        await rig.io()
        await rig.io(approach=True)
        await rig.plate()
        await rig.box("front")
        await rig.box("rear", text=OTHER_BOX)
        assert rig.lane.state is State.TROUBLE
        assert (await desk.decide("G0042", False, "no papers")).done
        await rig.io(approach=False)
        await rig.tick(1.0)
        audit.close()

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "denied" and tx.decision.by == "staff" and not tx.decision.allow
    assert not any(w["barrier_open"] for w in rig.port.writes)


def test_a_close_with_the_safety_loop_occupied_is_refused_with_the_reason(play, tmp_path):
    outcomes = []

    async def scenario(rig):
        desk, audit = _desk(rig, tmp_path)
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        await rig.io(open_limit=True, closed_limit=False)
        await rig.io(approach=False, safety=True)
        outcomes.append(await desk.close("G0042", "truck is through"))
        assert rig.lane.state is State.BARRIER_OPEN
        await rig.io(safety=False, exit=True)
        await rig.io(exit=False)
        outcomes.append(await desk.close("G0042", "truck is through"))
        assert rig.lane.state is State.IDLE
        await rig.tick(1.1)  # the guard still waits for the hold-off before the close coil
        outcomes.append(await desk.decide("G0042", True, "papers ok"))
        audit.close()

    rig = play(scenario)
    refused, done, not_trouble = outcomes
    assert not refused.done and "safety loop occupied" in refused.reason
    assert done.done and rig.port.last["barrier_close"]
    assert not not_trouble.done and "TROUBLE" in not_trouble.reason
    assert not rig.port.unsafe_closes
    whats = [e["what"] for e in _audit(tmp_path) if e["kind"] == "staff"]
    assert whats == ["close refused", "close", "decide refused"]


def test_a_manual_open_is_refused_when_the_lane_is_unsafe(play, tmp_path):
    outcomes = []

    async def scenario(rig):
        desk, audit = _desk(rig, tmp_path)
        await rig.io(estop=True)
        outcomes.append(await desk.open("G0042", "let the ambulance through"))
        outcomes.append(await desk.set_mode("G0042", "manual", "night shift"))
        audit.close()

    rig = play(scenario)
    refused, mode = outcomes
    assert not refused.done and "e-stop" in refused.reason
    assert mode.done and rig.lane.mode == "manual"
    assert not any(w["barrier_open"] for w in rig.port.writes)


def test_no_action_when_the_audit_log_cannot_take_it(play, tmp_path):
    outcomes = []

    async def scenario(rig):
        audit = AuditLog(tmp_path / "audit.jsonl", "lane-1", clock=rig.clock, max_pending=0)  # a stalled writer
        desk = StaffDesk(rig.station, audit)
        await rig.io()
        outcomes.append(await desk.set_mode("G0042", "closed", "storm"))
        audit.close()

    rig = play(scenario)
    assert not outcomes[0].done and "audit" in outcomes[0].reason
    assert rig.lane.mode == "auto" and rig.recorder.of("staff_action") == []
