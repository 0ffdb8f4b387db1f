"""Whole trucks through one lane, with fakes at the seams: every outcome the issue names."""

from __future__ import annotations

import asyncio

from agent.gate.events import State

from .fakes import BAD_CHECK, BOX, OTHER_BOX, PLATE


async def _pass(rig) -> None:
    await rig.io()  # first snapshot: lane clear, barrier down
    await rig.arrive_and_read()
    await rig.settle()
    assert rig.lane.state is State.BARRIER_OPEN
    await rig.drive_through()
    assert rig.lane.state is State.PASSED
    await rig.tick(0.5)
    assert rig.lane.state is State.PASSED, "closed before the hold-off"
    await rig.tick(0.6)
    assert rig.lane.state is State.IDLE
    assert rig.station.journal.drafts("lane-1") == [], "journal row kept after the record"


def test_normal_pass_records_one_complete_transaction(play):
    rig = play(_pass)
    [tx] = rig.transactions()
    assert tx.outcome == "passed" and tx.lane == "lane-1" and tx.type == "DI"
    assert tx.plate.text == PLATE and tx.plate.image_ref == "cam-plate/1.jpg"
    assert [(c.number, c.position, c.valid) for c in tx.containers] == [(BOX, "front", True), (BOX, "rear", True)]
    assert len(tx.reads) == 3 and all(r.confidence > 0 and r.image_ref for r in tx.reads)
    assert tx.decision.by == "platform" and tx.decision.allow and tx.decision.yard_position == "C-04-11"
    assert not tx.offline
    assert {"arrived", "verifying", "barrier_open", "passed"} <= set(tx.timings_ms)
    assert rig.recorder.priorities("gate_transaction") == {"transactional"}
    assert rig.recorder.priorities("lane_event") == {"control"}
    assert rig.platform.requests[0].containers == [BOX] and rig.platform.requests[0].plate == PLATE
    # the barrier came down, and green was shown only with the open limit made
    assert rig.port.last["barrier_close"] and rig.port.last["red"]
    assert any(w["green"] for w in rig.port.writes)
    assert not rig.port.unsafe_closes


def test_misread_then_good_reread(play):
    async def scenario(rig):
        await rig.io()
        await rig.io(approach=True)
        await rig.plate()
        await rig.box("front", text="CSQU3O54383", confidence=0.41)  # camera unsure: not trouble
        await rig.box("rear")
        assert rig.lane.state is State.ARRIVED
        await rig.box("front")  # the camera reads again, sure this time
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN
        await rig.drive_through()
        await rig.tick(1.1)

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "passed" and len(tx.reads) == 4
    assert [r.confidence for r in tx.reads if r.target == "container"] == [0.41, 0.95, 0.95]


def test_check_digit_failure_goes_to_trouble_and_staff_can_reread(play):
    async def scenario(rig):
        await rig.io()
        await rig.io(approach=True)
        await rig.plate()
        await rig.box("front", text=BAD_CHECK)
        assert rig.lane.state is State.TROUBLE
        assert "check digit" in rig.runner.display_text and rig.runner.display_text.startswith("SEE STAFF")
        assert not rig.platform.requests, "a bad number must never reach the platform"
        from agent.contract.gate import Reread
        await rig.station.command_handlers()["reread"](rig.command("reread", Reread(lane="lane-1")))
        assert rig.lane.state is State.ARRIVED
        await rig.plate()
        await rig.box("front")
        await rig.box("rear")
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN

    play(scenario)


def test_front_rear_disagreement_goes_to_trouble(play):
    async def scenario(rig):
        await rig.io()
        await rig.io(approach=True)
        await rig.plate()
        await rig.box("front", text=BOX)
        await rig.box("rear", text=OTHER_BOX)
        assert rig.lane.state is State.TROUBLE
        assert BOX in rig.lane.tx.trouble_reason and OTHER_BOX in rig.lane.tx.trouble_reason
        await rig.io(approach=False)
        await rig.tick(1.0)  # the truck is sent away

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "trouble" and "disagree" in tx.trouble_reason and tx.decision is None


def test_twin_boxes_lane_sends_both_numbers_to_the_platform(play):
    """With twin_boxes (two 20-ft boxes on one chassis) different valid numbers are not a
    disagreement: both go to the platform, which knows the pre-advice."""
    async def scenario(rig):
        await rig.io()
        await rig.io(approach=True)
        await rig.plate()
        await rig.box("front", text=BOX)
        await rig.box("rear", text=OTHER_BOX)
        await rig.settle()
        assert rig.lane.state is not State.TROUBLE

    rig = play(scenario, twin_boxes=True)
    [request] = rig.platform.requests
    assert sorted(request.containers) == sorted([BOX, OTHER_BOX])


def test_platform_deny_goes_to_trouble_with_reason_and_never_opens(play):
    async def scenario(rig):
        rig.platform.mode = "deny"
        rig.platform.reason = "no customs release"
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        assert rig.lane.state is State.TROUBLE
        assert "no customs release" in rig.runner.display_text
        assert not rig.station.guard.want_open
        await rig.io(approach=False)
        await rig.tick(0.6)

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "denied" and tx.decision.allow is False and tx.decision.by == "platform"
    assert not any(w["barrier_open"] for w in rig.port.writes)


def test_timeout_with_permit_allows_offline_and_late_answer_reconciles(play):
    async def scenario(rig):
        rig.platform.mode = "hold"
        await rig.station.command_handlers()["permits_sync"](rig.command("permits_sync", rig.permit_set()))
        await rig.io()
        await rig.arrive_and_read()
        assert rig.lane.state is State.VERIFYING
        await rig.tick(rig.settings.verify_s)  # the platform is silent past the lane's patience
        assert rig.lane.state is State.BARRIER_OPEN
        await rig.drive_through()
        await rig.tick(1.1)
        assert rig.lane.state is State.IDLE
        assert rig.station.journal.pending_reconcile("lane-1")
        rig.platform.release()  # the platform's answer arrives, late
        await rig.settle()
        assert not rig.station.journal.pending_reconcile("lane-1")

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "passed" and tx.offline and tx.decision.by == "offline"
    assert tx.decision.permit_id == "P-1" and tx.type == "RE"
    [rec] = rig.recorder.of("gate_reconcile")
    assert rec.transaction_id == tx.transaction_id and rec.agree and rec.platform.allow
    assert rig.recorder.priorities("gate_reconcile") == {"transactional"}


def test_offline_decision_reconciled_by_asking_again_after_reconnect(play):
    async def scenario(rig):
        rig.platform.mode = "silent"
        await rig.station.command_handlers()["permits_sync"](rig.command("permits_sync", rig.permit_set()))
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN and rig.lane.tx.offline
        assert await rig.runner.reconcile() == 0  # still offline: nothing lost, nothing done
        rig.platform.mode = "deny"  # the link is back; the platform would have said no
        assert await rig.runner.reconcile() == 1

    rig = play(scenario)
    [rec] = rig.recorder.of("gate_reconcile")
    assert rec.agree is False and rec.offline.by == "offline" and rec.platform.allow is False


def test_timeout_without_permit_is_trouble_never_a_silent_allow(play):
    async def scenario(rig):
        rig.platform.mode = "silent"
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        assert rig.lane.state is State.TROUBLE
        assert "no permit" in rig.lane.tx.trouble_reason
        await rig.tick(60)
        assert rig.lane.state is State.TROUBLE, "trouble waits for staff"
        assert not rig.station.guard.want_open

    rig = play(scenario)
    assert not any(w["barrier_open"] for w in rig.port.writes)
    assert not rig.transactions(), "still at the lane: not finished"


def test_truck_backs_out_cancels_cleanly(play):
    async def scenario(rig):
        rig.platform.mode = "hold"
        await rig.io()
        await rig.arrive_and_read()
        assert rig.lane.state is State.VERIFYING
        await rig.io(approach=False)
        await rig.tick(0.2)
        assert rig.lane.state is State.VERIFYING, "within the debounce: not yet gone"
        await rig.tick(0.4)
        assert rig.lane.state is State.IDLE
        rig.platform.release()  # the answer for a truck that left changes nothing
        await rig.settle()
        assert rig.lane.state is State.IDLE
        assert rig.station.journal.drafts("lane-1") == []

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "cancelled" and tx.decision is None
    assert not any(w["barrier_open"] for w in rig.port.writes)


def test_loop_chatter_starts_one_transaction(play):
    async def scenario(rig):
        await rig.io()
        for _ in range(5):  # the approach loop bounces as the cab rolls on
            await rig.io(approach=True)
            await rig.tick(0.05)
            await rig.io(approach=False)
            await rig.tick(0.05)
        await rig.io(approach=True)
        await rig.tick(1.0)
        await rig.plate()
        await rig.box("front")
        await rig.box("rear")
        await rig.settle()
        await rig.drive_through()
        await rig.tick(1.1)

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "passed"
    assert rig.lane.counters["transactions"] == 1 and len(rig.platform.requests) == 1


def test_safety_loop_occupied_when_close_is_due_keeps_barrier_up(play):
    async def scenario(rig):
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        await rig.drive_through()
        await rig.io(safety=True)  # the next truck noses under the barrier
        await rig.tick(5.0)
        assert rig.lane.state is State.PASSED
        assert not rig.port.last["barrier_close"]
        await rig.io(safety=False)
        await rig.tick(0.5)
        assert rig.lane.state is State.PASSED, "hold-off restarts when the safety loop clears"
        await rig.tick(0.6)
        assert rig.lane.state is State.IDLE and rig.port.last["barrier_close"]

    rig = play(scenario)
    assert not rig.port.unsafe_closes


def test_lane_mode_closed_starts_no_transaction(play):
    async def scenario(rig):
        from agent.contract.gate import LaneMode
        await rig.io()
        await rig.station.command_handlers()["lane_mode"](rig.command("lane_mode", LaneMode(lane="lane-1", mode="closed")))
        await rig.io(approach=True)
        assert rig.lane.state is State.IDLE and rig.runner.display_text == "LANE CLOSED"

    rig = play(scenario)
    assert not rig.transactions()


def test_a_lane_closed_mid_transaction_opens_only_for_staff(play):
    async def scenario(rig):
        from agent.contract.gate import LaneMode
        await rig.io()
        await rig.io(approach=True)
        await rig.station.command_handlers()["lane_mode"](rig.command("lane_mode", LaneMode(lane="lane-1", mode="closed")))
        await rig.plate()
        await rig.box("front")
        await rig.box("rear")
        await rig.settle()
        assert rig.lane.state is State.TROUBLE and "closed" in rig.lane.tx.trouble_reason
        assert not rig.station.guard.want_open

    play(scenario)


def test_manual_mode_needs_staff_release(play):
    async def scenario(rig):
        from agent.contract.gate import LaneMode, RemoteOpen
        h = rig.station.command_handlers()
        await rig.io()
        await h["lane_mode"](rig.command("lane_mode", LaneMode(lane="lane-1", mode="manual")))
        await rig.arrive_and_read()
        await rig.settle()
        assert rig.lane.state is State.TROUBLE and "manual" in rig.lane.tx.trouble_reason
        await h["barrier_open"](rig.command("barrier_open", RemoteOpen(lane="lane-1", reason="checked", operator="ops-7")))
        assert rig.lane.state is State.BARRIER_OPEN
        await rig.drive_through()
        await rig.tick(1.1)

    rig = play(scenario)
    [tx] = rig.transactions()
    assert tx.outcome == "released" and tx.decision.by == "staff" and "ops-7" in tx.decision.reason


def test_lane_with_weighbridge_waits_for_stable_weight(play):
    async def scenario(rig):
        await rig.io()
        await rig.arrive_and_read()
        assert rig.lane.state is State.IDENTIFIED
        await rig.weight(28000.0, stable=False)
        assert rig.lane.state is State.IDENTIFIED
        await rig.weight(28450.0)
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN
        assert rig.platform.requests[0].weight_kg == 28450.0

    play(scenario, scale="scale-1")


def test_late_platform_answer_lifts_a_timeout_trouble(play):
    async def scenario(rig):
        rig.platform.mode = "hold"
        await rig.io()
        await rig.arrive_and_read()
        await rig.tick(rig.settings.verify_s)  # no permits held: TROUBLE
        assert rig.lane.state is State.TROUBLE
        rig.platform.release()
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN and rig.lane.tx.decision.by == "platform"

    play(scenario)


def test_a_record_the_outbox_refuses_is_kept_in_the_journal(play):
    async def scenario(rig):
        real = rig.recorder.record

        async def refused(type, body, priority="transactional"):
            if type == "gate_transaction":
                raise ValueError("record refused")  # not a full store: retrying would not help
            return await real(type, body, priority)

        rig.recorder.record = refused
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        await rig.drive_through()
        await rig.tick(1.1)
        assert rig.lane.state is State.IDLE, "the lane keeps working"
        assert len(rig.station.journal.drafts("lane-1")) == 1, "not lost: recorded as aborted on restart"
        assert rig.runner.counters["record_failed.gate_transaction"] == 1
        lost_id = rig.station.journal.drafts("lane-1")[0]["transaction_id"]
        rig.recorder.record = real  # the outbox has room again; the next truck must not erase the first
        await rig.io(open_limit=False, closed_limit=True)
        await rig.arrive_and_read()
        await rig.settle()
        await rig.drive_through()
        await rig.tick(1.1)
        [kept] = rig.station.journal.drafts("lane-1")
        assert kept["transaction_id"] == lost_id
        await rig.station.close()
        rig.station = rig._station()
        [aborted] = await rig.station.start()
        assert aborted.transaction_id == lost_id

    rig = play(scenario)
    assert [t.outcome for t in rig.transactions()] == ["passed", "aborted"]


def test_a_transaction_record_waits_for_room_while_the_lane_goes_on(play):
    """Storage full: the lane's turns never wait for it, and the gate transaction is never the
    record dropped: it is tried again until it is stored, and only then is its journal row cleared."""
    async def scenario(rig):
        from agent.errors import StorageFullError

        real, full = rig.recorder.record, asyncio.Event()
        full.set()

        async def maybe_full(type, body, priority="transactional"):
            if full.is_set() and type == "gate_transaction":
                raise StorageFullError("outbox at its cap")
            return await real(type, body, priority)

        rig.recorder.record = maybe_full
        rig.runner.books.retry_s = 0.01
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN
        await rig.drive_through()
        rig.clock.advance(1.1)
        await rig.runner.tick()  # not rig.tick(): that waits for the books
        assert rig.lane.state is State.IDLE, "the lane keeps working"
        await asyncio.sleep(0.1)
        assert rig.runner.counters["record_waiting.gate_transaction"] >= 2
        assert rig.transactions() == [] and len(rig.station.journal.drafts("lane-1")) == 1
        full.clear()  # room again
        await rig.runner.books.drain()
        assert len(rig.transactions()) == 1 and rig.station.journal.drafts("lane-1") == []

    rig = play(scenario)
    assert [t.outcome for t in rig.transactions()] == ["passed"]
    assert rig.runner.counters["record_failed.gate_transaction"] == 0
