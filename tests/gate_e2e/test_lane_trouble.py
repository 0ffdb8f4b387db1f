"""Trucks that must not get through, and one that changes its mind: check-digit failure,
front/rear disagreement, a platform deny and a truck backing out — through the firmware stubs
and a real broker. In each the barrier must never move and the transaction must be on record."""

from __future__ import annotations

import pytest

from agent.gate.events import State

from .lane import LaneSetup, make_truck, until

pytestmark = pytest.mark.slow


def _bad_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


async def _leave_and_record(lane: LaneSetup) -> dict:
    """The truck reverses off the approach loop; the lane ends the transaction."""
    await lane.back_out()
    [tx] = await lane.wait_transactions(1)
    await lane.wait_state(State.IDLE)
    return tx


def _never_moved(lane: LaneSetup) -> None:
    assert lane.rig.audit() == [], lane.rig.audit()
    assert lane.model.closed_limit


def test_check_digit_failure_is_trouble_and_never_asks_the_platform(lane_run):
    truck = make_truck(11)
    bad = _bad_check_digit(truck.containers[0])

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck)
        await lane.arrive(truck)
        await lane.read(truck, front=bad)
        await lane.wait_state(State.TROUBLE)
        assert lane.station.runner.display_text.startswith("SEE STAFF")
        tx = await _leave_and_record(lane)
        _never_moved(lane)
        return tx, lane.verify_requests(), lane.lane_events("state")

    tx, requests, states = lane_run(scenario)
    assert requests == [], "a container number with a wrong check digit went to the platform"
    assert tx["outcome"] == "trouble" and tx["decision"] is None
    assert "check digit" in tx["trouble_reason"] and bad in tx["trouble_reason"]
    assert any(r["text"] == bad for r in tx["reads"])
    assert [s["value"] for s in states if s["transaction_id"] == tx["transaction_id"]] == ["ARRIVED", "TROUBLE"]


def test_front_and_rear_disagreeing_is_trouble(lane_run):
    truck = make_truck(12)
    other = make_truck(13).containers[0]

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck)
        await lane.arrive(truck)
        await lane.read(truck, rear=other)
        await lane.wait_state(State.TROUBLE)
        tx = await _leave_and_record(lane)
        _never_moved(lane)
        return tx, lane.verify_requests()

    tx, requests = lane_run(scenario)
    assert requests == []
    assert tx["outcome"] == "trouble" and "disagree" in tx["trouble_reason"]
    assert truck.containers[0] in tx["trouble_reason"] and other in tx["trouble_reason"]


def test_platform_deny_keeps_the_barrier_down(lane_run):
    truck = make_truck(14)

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck, allow=False, reason="customs hold")
        await lane.arrive(truck)
        await lane.read(truck)
        await lane.wait_state(State.TROUBLE)
        assert lane.station.runner.display_text == "DENIED: customs hold"
        tx = await _leave_and_record(lane)
        _never_moved(lane)
        return tx, lane.verify_requests()

    tx, requests = lane_run(scenario)
    [req] = requests
    assert req["transaction_id"] == tx["transaction_id"]
    assert tx["outcome"] == "denied"
    assert tx["decision"] == {**tx["decision"], "allow": False, "by": "platform", "reason": "customs hold"}


def test_truck_backing_out_cancels_cleanly(lane_run):
    truck = make_truck(15)

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck)
        await lane.arrive(truck)
        await lane.post("cam-plate", truck.plate)  # plate read, then the driver thinks better of it
        tx = await _leave_and_record(lane)
        _never_moved(lane)
        # the draft goes once the record is committed (both on the storage writer thread)
        await until(lambda: lane.station.journal.drafts("lane-1") == [], 20, "the journal row removed after the record")
        return tx, lane.verify_requests(), lane.transactions()

    tx, requests, txs = lane_run(scenario)
    assert requests == [] and len(txs) == 1
    assert tx["outcome"] == "cancelled" and tx["trouble_reason"] == "truck backed out"
    assert tx["plate"]["text"] == truck.plate and tx["decision"] is None
