"""The gate lane over a real serial line: the controller stub's pymodbus RTU server on one
pseudo-terminal, the agent's GateIoDriver (pymodbus serial client) on another, the two
masters joined like a null-modem cable. One lane's life: inputs on change, open to the
limit, the controller's own interlock with the agent bypassed, reversal while closing, the
watchdog when the host goes silent, and a dead module going offline and coming back."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient

from agent.config.devices import GateIo, GateIoMap
from agent.contract.gate import LaneInputs
from agent.contract.node import DeviceStatus
from agent.devices.gate_io import GateIoDriver
from agent.devices.supervisor import Supervisor
from agent.errors import DeviceOffline, UnsafeCommandError
from firmware_stubs.gate_controller import GateController
from simulators.null_modem import NullModem

M = GateIoMap()


class Sink:
    def __init__(self) -> None:
        self.events: list[object] = []

    async def emit(self, device: str, event: object) -> None:
        self.events.append(event)

    def inputs(self) -> list[LaneInputs]:
        return [e for e in self.events if isinstance(e, LaneInputs)]

    def statuses(self) -> list[str]:
        return [e.status for e in self.events if isinstance(e, DeviceStatus)]


async def until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for something to become true; the deadline only guards a hang, never a measure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def test_a_gate_lane_over_a_real_pty():
    async def main():
        cable = NullModem()
        controller = GateController(travel_s=0.3, watchdog_s=1.0, rng=random.Random(5))
        await controller.start_serial(cable.a, baudrate=115200)
        sink = Sink()
        cfg = GateIo(kind="gate_io", name="lane7-io", port=cable.b, poll_hz=40, timeout_s=0.15,
                     line={"baudrate": 115200}, reconnect_base_s=0.05, reconnect_cap_s=0.2)
        driver = GateIoDriver(cfg, sink)
        supervisor = Supervisor([driver], rng=random.Random(3))
        run = supervisor.start()
        model = controller.model
        try:
            await until(lambda: driver.state == "online" and sink.inputs(), what="online")
            assert sink.inputs()[0].closed_limit

            # inputs on change
            model.truck_arrives()
            await until(lambda: driver.inputs.approach, what="approach")
            assert sum(1 for e in sink.inputs() if e.approach) == 1

            # barrier open -> open limit after the travel time
            await driver.set_outputs(barrier_open=True, red=False)
            await until(lambda: driver.inputs.open_limit, what="open limit")
            model.truck_under_barrier()
            await until(lambda: driver.inputs.safety and driver.inputs.photocell_broken, what="truck under")
            with pytest.raises(UnsafeCommandError):
                await driver.set_outputs(barrier_open=False, barrier_close=True)

            # closing reverses when the safety loop becomes occupied
            model.truck_leaves()
            model.truck_gone()
            await until(lambda: not driver.inputs.safety and not driver.inputs.exit, what="lane clear")
            await driver.set_outputs(barrier_open=False, barrier_close=True)
            await until(lambda: model.motion == "closing" and not driver.inputs.open_limit, what="closing")
            model.set_loop("safety", True)
            await until(lambda: driver.inputs.open_limit and model.motion == "idle", what="reversed to open")
            assert "reverse" in [m.what for m in model.movements()]

            # the controller refuses even with the agent bypassed: a raw client on the line
            await supervisor.stop()
            await run
            raw = AsyncModbusSerialClient(cable.b, framer=FramerType.RTU, baudrate=115200, timeout=0.5,
                                          retries=1, reconnect_delay=0)
            await raw.connect()
            try:
                reply = await raw.write_coil(M.barrier_close, True, device_id=1)
                assert reply.isError() and reply.exception_code == 6
                assert model.open_limit and not model.close_cmd

                # the host goes silent: the watchdog forces the safe state
                assert not (await raw.write_coil(M.light_green, True, device_id=1)).isError()
                await until(lambda: model.watchdog_tripped, what="watchdog")
                assert model.red and not model.green and not model.open_cmd and model.motion == "idle"
            finally:
                raw.close()

            # a dead module: offline, then back
            controller.muted = True
            seen = len(sink.statuses())
            run = supervisor.start()
            await until(lambda: "offline" in sink.statuses()[seen:], what="offline")
            assert driver.inputs.stale and driver.inputs.safety
            controller.muted = False
            await until(lambda: driver.state == "online" and not driver.inputs.stale, what="back online")
            assert driver.inputs.safety and driver.inputs.open_limit  # the truck is still there
            assert model.violations == []
            downs = [m for m in model.audit if m.what == "closing"]
            assert downs and all(not (m.safety or m.photocell_broken) for m in downs)
        finally:
            await supervisor.stop()
            with contextlib.suppress(DeviceOffline, asyncio.CancelledError):
                await run
            await controller.stop()
            cable.close()

    asyncio.run(main())
