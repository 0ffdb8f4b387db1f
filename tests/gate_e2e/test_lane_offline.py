"""The platform unreachable: a silent platform with a matching offline permit (allow, flagged
offline, reconciled once the platform answers again) and without one (TROUBLE, never a silent
allow) — through the firmware stubs and a real broker."""

from __future__ import annotations

import asyncio

import pytest

from agent.gate.events import State

from .lane import LaneSetup, make_truck, until

pytestmark = pytest.mark.slow


def test_silent_platform_with_a_permit_allows_offline_and_reconciles_later(lane_run):
    truck = make_truck(21)

    async def scenario(lane: LaneSetup):
        lane.preadvise(truck)
        await lane.push_permit(truck)
        lane.platform.silent = True
        await lane.arrive(truck)
        await lane.read(truck)
        await lane.wait_open()
        await lane.pass_under()
        await lane.wait_closed()
        [tx] = await lane.wait_transactions(1)
        await asyncio.sleep(1.5)  # several reconcile rounds while the platform stays silent
        assert lane.platform.ledger.bodies("gate_reconcile") == []
        assert lane.station.journal.pending_reconcile("lane-1"), "the offline decision is not queued"
        lane.platform.silent = False
        await until(lambda: lane.platform.ledger.bodies("gate_reconcile"), 10, "a gate_reconcile record")
        await until(lambda: not lane.station.journal.pending_reconcile("lane-1"), 5, "the reconcile queue to empty")
        await asyncio.sleep(1.0)  # a second reconcile of the same decision would show up now
        return tx, lane.platform.ledger.bodies("gate_reconcile"), lane.verify_requests()

    tx, reconciles, requests = lane_run(scenario)
    assert tx["outcome"] == "passed" and tx["offline"] is True
    assert tx["decision"]["by"] == "offline" and tx["decision"]["permit_id"] == "P-00001"
    assert tx["decision"]["yard_position"] == truck.yard_position and tx["type"] == "DI"
    [rec] = reconciles
    assert rec["transaction_id"] == tx["transaction_id"] and rec["agree"] is True
    assert rec["offline"]["by"] == "offline" and rec["platform"]["allow"] is True
    # the first ask went unanswered; the platform answered a later ask about the same transaction
    assert len(requests) >= 2 and {r["transaction_id"] for r in requests} == {tx["transaction_id"]}


def test_silent_platform_without_a_permit_is_trouble_not_an_allow(lane_run):
    truck = make_truck(22)
    stranger = make_truck(23)

    async def scenario(lane: LaneSetup):
        await lane.push_permit(stranger)  # permits exist, just not for this truck
        lane.platform.silent = True
        await lane.arrive(truck)
        await lane.read(truck)
        await lane.wait_state(State.TROUBLE)
        await asyncio.sleep(0.5)
        assert lane.rig.audit() == [] and lane.model.closed_limit
        await lane.back_out()
        [tx] = await lane.wait_transactions(1)
        return tx, lane.station.journal.pending_reconcile("lane-1")

    tx, pending = lane_run(scenario)
    assert tx["outcome"] == "trouble" and tx["decision"] is None and not tx["offline"]
    assert "no permit" in tx["trouble_reason"]
    assert pending == []
