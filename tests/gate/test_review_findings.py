"""Regressions found in review: an open wish must not outlive its command (e-stop, controller
loss, failed writes, a remote open that waited for its turn), a journal error must not stop
the lane, and an answer to the reads before a re-read must not decide the new reads."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from agent.contract.envelope import Response
from agent.contract.gate import LaneInputs, RemoteOpen, Reread, VerifyAnswer
from agent.errors import InvalidCommandError
from agent.gate.events import State
from tests.gate.fakes import BOX, OTHER_BOX, Rig


def run(tmp_path, scenario, **settings):
    async def main():
        rig = Rig(tmp_path, **settings)
        try:
            await rig.station.start()
            await scenario(rig)
        finally:
            await rig.close()
        return rig

    return asyncio.run(main())


def test_estop_drops_the_open_and_a_reset_does_not_move_the_barrier(tmp_path):
    async def scenario(rig):
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        assert rig.lane.state is State.BARRIER_OPEN and rig.port.last["barrier_open"]
        await rig.io(estop=True)  # e-stop mid-travel
        assert not rig.port.last["barrier_open"]
        assert rig.lane.state is State.TROUBLE and "e-stop" in rig.lane.tx.trouble_reason
        rig.clock.advance(600)
        await rig.io(estop=False)  # reset ten minutes later
        assert not rig.port.last["barrier_open"], "the barrier moved on its own after the reset"
        assert not rig.station.guard.want_open

    run(tmp_path, scenario)


def test_controller_loss_drops_the_open_so_a_later_truck_cannot_use_it(tmp_path):
    async def scenario(rig):
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        assert rig.port.last["barrier_open"]
        stale = LaneInputs(stale=True, approach=False, safety=True, exit=False, open_limit=False,
                           closed_limit=False, photocell_broken=True, estop=False)
        await rig.station.emit("io-1", stale)
        rig.clock.advance(600)
        await rig.io(approach=False, closed_limit=True)  # the module is back; the truck has gone
        assert not rig.port.last["barrier_open"]
        assert not rig.station.guard.want_open

    run(tmp_path, scenario)


def test_an_open_whose_coil_never_reached_the_module_expires(tmp_path):
    async def scenario(rig):
        real = rig.port.set_outputs
        failing = {"on": False}

        async def flaky(**kw):
            if failing["on"]:
                raise OSError("no answer")
            await real(**kw)

        rig.port.set_outputs = flaky
        await rig.io()
        failing["on"] = True
        await rig.arrive_and_read()
        await rig.settle()
        for _ in range(12):
            await rig.tick(5)  # a minute of failed writes: far past decision_ttl_s
        failing["on"] = False
        await rig.tick(0.1)
        assert not rig.port.last["barrier_open"], "an expired open was carried out"
        assert rig.lane.state is State.TROUBLE and "expiry" in rig.lane.tx.trouble_reason

    run(tmp_path, scenario)


def test_a_remote_open_that_expires_while_waiting_for_its_turn_is_not_carried_out(tmp_path):
    async def scenario(rig):
        await rig.io()

        class SlowDisplay:
            slow = True

            async def show(self, text):
                if self.slow:
                    self.slow = False
                    await asyncio.sleep(0.05)
                    rig.clock.advance(10)  # a slow turn: ten seconds pass holding the lock

        rig.runner.display = SlowDisplay()
        turn = asyncio.create_task(rig.io(approach=True))
        await asyncio.sleep(0.01)
        command = rig.command("barrier_open", RemoteOpen(lane="lane-1", reason="x", operator="op"), expires_in=2.0)
        try:
            await rig.station.command_handlers()["barrier_open"](command)
        except InvalidCommandError:
            pass  # refused is the right answer
        await turn
        await rig.tick(0.1)
        assert not rig.station.guard.want_open
        assert not rig.port.last["barrier_open"]

    run(tmp_path, scenario)


def test_a_journal_error_does_not_stop_the_lane(tmp_path):
    async def scenario(rig):
        rig.platform.mode = "hold"
        await rig.station.command_handlers()["permits_sync"](rig.command("permits_sync", rig.permit_set()))

        def broken(*args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

        rig.station.journal.add_reconcile = broken
        await rig.io()
        await rig.arrive_and_read()
        rig.clock.advance(rig.settings.verify_s)
        task = asyncio.create_task(rig.station.run())
        try:
            await asyncio.sleep(0.3)
            assert not task.done(), f"the station's loop died: {task.exception() if task.done() else ''}"
            await rig.drive_through()
            rig.clock.advance(30)
            await asyncio.sleep(0.3)
            assert rig.lane.state is not State.PASSED, "the lane stopped ticking with the barrier up"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            rig.platform.release()

    run(tmp_path, scenario, tick_s=0.05)


def test_a_late_answer_about_the_reads_before_a_reread_is_ignored(tmp_path):
    class Platform:
        def __init__(self):
            self.gates: list[asyncio.Event] = []
            self.requests = []

        async def request(self, name, body, timeout):
            self.requests.append(body)
            gate = asyncio.Event()
            self.gates.append(gate)
            await gate.wait()
            allow = body.containers == [BOX]  # the platform allows BOX only
            answer = VerifyAnswer(transaction_id=body.transaction_id, allow=allow, type="DI" if allow else None,
                                  reason="" if allow else "no pre-advice for this box")
            return Response[Any](node="p", type="gate_verify", correlation_id="c", ok=True, body=answer.model_dump())

    async def scenario(rig):
        platform = Platform()
        rig.runner.requester = platform
        await rig.io()
        await rig.arrive_and_read()  # reads BOX
        await rig.tick(rig.settings.verify_s)
        await rig.tick(rig.settings.permit_lookup_s)
        assert rig.lane.state is State.TROUBLE
        await rig.station.command_handlers()["reread"](rig.command("reread", Reread(lane="lane-1")))
        await rig.plate()
        await rig.box("front", text=OTHER_BOX)
        await rig.box("rear", text=OTHER_BOX)
        await asyncio.sleep(0)
        assert rig.lane.state is State.VERIFYING and platform.requests[1].containers == [OTHER_BOX]
        platform.gates[0].set()  # the answer about BOX arrives late
        await asyncio.sleep(0.05)
        assert rig.lane.state is State.VERIFYING and not rig.station.guard.want_open
        platform.gates[1].set()  # the answer about the boxes actually on the truck: deny
        await asyncio.sleep(0.05)
        assert rig.lane.state is State.TROUBLE and not rig.station.guard.want_open

    run(tmp_path, scenario)


def test_the_close_waits_a_full_holdoff_after_an_estop_reset(tmp_path):
    async def scenario(rig):
        await rig.io()
        await rig.arrive_and_read()
        await rig.settle()
        await rig.drive_through()
        await rig.tick(1.1)
        assert rig.port.last["barrier_close"]
        await rig.io(estop=True)
        assert not rig.port.last["barrier_close"]
        rig.clock.advance(300)
        await rig.io(estop=False)
        assert not rig.port.last["barrier_close"], "the close resumed at once, without a hold-off"

    run(tmp_path, scenario)
