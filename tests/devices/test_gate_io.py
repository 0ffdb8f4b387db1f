"""GateIoDriver against the gate controller stub, pymodbus on both ends, RTU frames over TCP
on 127.0.0.1 (fast). The same pair over a real pty is in test_gate_io_pty.py."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient

from agent.config.devices import GateIo, GateIoMap
from agent.contract.gate import LaneInputs
from agent.contract.node import DeviceStatus
from agent.devices import gate_io
from agent.devices.gate_io import GateIoDriver
from agent.devices.supervisor import Supervisor
from agent.errors import DeviceOffline, DeviceRefusedError, UnsafeCommandError
from firmware_stubs.gate_controller import GateController

M = GateIoMap()


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    async def emit(self, device: str, event: object) -> None:
        self.events.append((device, event))

    def inputs(self, device: str | None = None) -> list[LaneInputs]:
        return [e for d, e in self.events if isinstance(e, LaneInputs) and device in (None, d)]

    def statuses(self, device: str | None = None) -> list[str]:
        return [e.status for d, e in self.events if isinstance(e, DeviceStatus) and device in (None, d)]


async def until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for something to become true; the deadline only guards a hang, never a measure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def config(port: int, name: str = "lane1-io", **kw) -> GateIo:
    kw.setdefault("poll_hz", 50)
    kw.setdefault("timeout_s", 0.1)
    return GateIo(kind="gate_io", name=name, port=f"socket://127.0.0.1:{port}", reconnect_base_s=0.05,
                  reconnect_cap_s=0.2, **kw)


@contextlib.asynccontextmanager
async def lane(travel_s: float = 0.2, watchdog_s: float = 2.0, serve: bool = True, **kw):
    controller = GateController(travel_s=travel_s, watchdog_s=watchdog_s, rng=random.Random(1), io_map=kw.get("map"))
    port = await controller.start_tcp()
    sink = Sink()
    driver = GateIoDriver(config(port, **kw), sink)
    task = None
    try:
        await driver.open()
        if serve:
            task = asyncio.create_task(driver.serve())
        yield controller, driver, sink
    finally:
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, DeviceOffline):
                await task
        await driver.close()
        await controller.stop()


def test_inputs_are_reported_on_change_only():
    async def main():
        async with lane() as (controller, driver, sink):
            await until(lambda: driver.counters["polls"] >= 5, what="polls")
            first = sink.inputs()
            assert len(first) == 1 and first[0].closed_limit and not first[0].safety and not first[0].stale
            controller.model.truck_arrives()
            await until(lambda: sink.inputs()[-1].approach, what="approach event")
            polls = driver.counters["polls"]
            await until(lambda: driver.counters["polls"] >= polls + 5, what="more polls")
            assert len(sink.inputs()) == 2  # many polls, one change, one event
            controller.model.truck_under_barrier()
            await until(lambda: sink.inputs()[-1].safety, what="safety event")
            last = sink.inputs()[-1]
            assert last.photocell_broken and not last.approach  # active-low photocell decoded

    asyncio.run(main())


def test_barrier_open_makes_the_open_limit_and_the_agent_refuses_to_close_on_a_truck():
    async def main():
        async with lane() as (controller, driver, sink):
            await driver.set_outputs(barrier_open=True, barrier_close=False, red=False, green=False)
            await until(lambda: sink.inputs()[-1].open_limit, what="open limit")
            assert [m.what for m in controller.model.movements()] == ["opening", "opened"]
            await driver.set_outputs(green=True)
            assert controller.model.green and not controller.model.red
            controller.model.truck_under_barrier()
            await until(lambda: driver.inputs.safety, what="safety seen")
            with pytest.raises(UnsafeCommandError, match="safety loop occupied"):
                await driver.set_outputs(barrier_open=False, barrier_close=True)
            assert controller.refusals == []  # refused before anything went on the wire
            assert controller.model.open_cmd and not controller.model.close_cmd
            with pytest.raises(UnsafeCommandError):
                await driver.set_outputs(barrier_open=True, barrier_close=True)

    asyncio.run(main())


def test_the_controller_refuses_to_close_even_when_the_agent_check_is_bypassed():
    async def main():
        async with lane(poll_hz=0.5) as (controller, driver, sink):
            await driver.set_outputs(barrier_open=True)
            await until(lambda: controller.model.open_limit, what="barrier up")
            controller.model.truck_under_barrier()
            # the driver polls every 2 s: its last inputs still show a clear lane
            assert not driver.inputs.safety
            with pytest.raises(DeviceRefusedError):
                await driver.set_outputs(barrier_open=False, barrier_close=True)
            assert driver.counters["device_refused"] == 1
            # a raw client, no agent at all: FC05 open off (accepted), then FC05 close on
            raw = AsyncModbusTcpClient("127.0.0.1", port=controller.port, framer=FramerType.RTU, timeout=1,
                                       retries=0, reconnect_delay=0)
            await raw.connect()
            try:
                assert not (await raw.write_coil(M.barrier_open, False, device_id=1)).isError()
                reply = await raw.write_coil(M.barrier_close, True, device_id=1)
            finally:
                raw.close()
            assert reply.isError() and reply.exception_code == 6  # device busy: interlock
            assert controller.refusals == ["safety loop occupied"] * 2
            assert controller.model.open_limit and controller.model.violations == []

    asyncio.run(main())


def test_closing_reverses_when_the_safety_loop_becomes_occupied():
    async def main():
        async with lane(travel_s=0.6) as (controller, driver, sink):
            await driver.set_outputs(barrier_open=True)
            await until(lambda: driver.inputs.open_limit, what="open")
            await driver.set_outputs(barrier_open=False, barrier_close=True)
            await until(lambda: controller.model.motion == "closing" and not driver.inputs.open_limit, what="closing")
            controller.model.set_loop("safety", True)
            await until(lambda: controller.model.open_limit and driver.inputs.open_limit, what="reopened")
            whats = [m.what for m in controller.model.movements()]
            assert whats == ["opening", "opened", "closing", "reverse", "opened"]
            assert not controller.model.close_cmd and controller.model.violations == []

    asyncio.run(main())


def test_the_domain_vectors_go_on_the_wire():
    async def main():
        m = GateIoMap(estop=7)  # eight inputs 0..7: the DOMAIN.md "read 8 inputs" vector
        async with lane(map=m) as (controller, driver, sink):
            await driver.set_outputs(barrier_open=True)
            await driver.set_outputs(barrier_open=False)
            received = [frame for sent, frame in controller.wire_log if not sent]
            assert bytes.fromhex("01 02 00 00 00 08 79 CC") in received
            assert bytes.fromhex("01 05 00 10 FF 00 8D FF") in received
            assert bytes.fromhex("01 05 00 10 00 00 CC 0F") in received

    asyncio.run(main())


def test_a_failed_read_looks_dangerous_and_a_dead_module_goes_offline():
    async def main():
        async with lane(serve=False) as (controller, driver, sink):
            await driver.set_outputs(barrier_open=True)
            await until(lambda: controller.model.open_limit, what="barrier up")
            controller.muted = True
            with pytest.raises(DeviceOffline):
                await driver.serve()
            assert driver.inputs.stale and driver.inputs.safety and driver.inputs.photocell_broken
            assert sink.inputs()[-1].stale
            assert driver.state == "offline" and sink.statuses()[-1] == "offline"
            assert driver.counters["read_failures"] == 3
            with pytest.raises(UnsafeCommandError, match="inputs unknown"):
                await driver.set_outputs(barrier_close=True)

    asyncio.run(main())


def test_one_dead_module_does_not_stall_another_and_it_recovers():
    async def main():
        lanes = [GateController(travel_s=0.2, watchdog_s=5) for _ in range(2)]
        ports = [await c.start_tcp() for c in lanes]
        sink = Sink()
        drivers = [GateIoDriver(config(p, name=f"lane{i}-io"), sink) for i, p in enumerate(ports)]
        supervisor = Supervisor(drivers, rng=random.Random(2))
        run = supervisor.start()
        try:
            await until(lambda: all(d.state == "online" for d in drivers), what="both online")
            lanes[0].muted = True
            await until(lambda: "offline" in sink.statuses("lane0-io"), what="lane0 offline")
            # lane 1 carries on while lane 0 is being retried
            for occupied in (True, False, True):
                lanes[1].model.set_loop("approach", occupied)
                await until(lambda o=occupied: driver_sees(drivers[1], o), what="lane1 approach")
            assert sink.inputs("lane0-io")[-1].stale
            lanes[0].muted = False
            await until(lambda: drivers[0].state == "online" and not drivers[0].inputs.stale, what="lane0 back")
            assert sink.statuses("lane0-io")[-2:] == ["offline", "online"]
            assert drivers[0].counters["reconnects"] >= 1
        finally:
            await supervisor.stop()
            await run
            for c in lanes:
                await c.stop()

    def driver_sees(driver, occupied):
        return driver.inputs.approach == occupied and not driver.inputs.stale

    asyncio.run(main())


def test_polling_feeds_the_watchdog_and_silence_trips_it(monkeypatch):
    monkeypatch.setattr(gate_io, "REST_AFTER_S", 0.1)

    async def main():
        # a lane at rest is polled at the idle rate: 10 Hz feeds this 0.3 s watchdog
        async with lane(watchdog_s=0.3, serve=False, idle_poll_hz=10) as (controller, driver, sink):
            await driver.set_outputs(red=False, green=True)
            poller = asyncio.create_task(driver.serve())
            try:
                await until(lambda: driver.counters["idle_polls"] >= 8, what="idle polls")  # ~0.8 s at 10 Hz
                assert not controller.model.watchdog_tripped and controller.model.green
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            await until(lambda: controller.model.watchdog_tripped, what="watchdog")
            assert controller.model.red and not controller.model.green

    asyncio.run(main())


def test_a_port_that_cannot_be_opened_is_offline():
    async def main():
        sink = Sink()
        driver = GateIoDriver(config(1), sink)  # nothing listens on port 1
        with pytest.raises(DeviceOffline):
            await driver.open()
        assert driver.state == "offline"
        await driver.close()

    asyncio.run(main())


def test_a_module_that_refuses_the_reads_is_in_error():
    async def main():
        controller = GateController(travel_s=0.2)
        port = await controller.start_tcp()
        sink = Sink()
        # a map that puts the e-stop beyond the module's 32 inputs: every read is refused
        driver = GateIoDriver(config(port, map=GateIoMap(estop=40)), sink)
        try:
            with pytest.raises(DeviceOffline, match="refused"):
                await driver.open()
            assert driver.state == "error" and driver.counters["exception_replies"] == 1
            assert driver.inputs.stale
        finally:
            await driver.close()
            await controller.stop()

    asyncio.run(main())


def test_a_lane_at_rest_is_polled_at_the_idle_rate_and_anything_moving_brings_the_fast_rate_back(monkeypatch):
    monkeypatch.setattr(gate_io, "REST_AFTER_S", 0.2)

    async def main():
        # idle every 10 s: a wait that long would miss every deadline below
        async with lane(idle_poll_hz=0.1) as (controller, driver, sink):
            await until(lambda: driver.counters["idle_polls"] >= 1, what="an idle poll")
            polls = driver.counters["polls"]
            await driver.set_outputs(barrier_open=True)  # an output wakes the poll at once
            await until(lambda: sink.inputs()[-1].open_limit, what="open limit seen without the idle wait")
            idle = driver.counters["idle_polls"]
            await until(lambda: driver.counters["polls"] >= polls + 10, what="fast polls while the barrier is up")
            assert driver.counters["idle_polls"] == idle
            controller.model.truck_arrives()
            await until(lambda: sink.inputs()[-1].approach, what="approach event")
            assert driver.counters["idle_polls"] == idle  # a truck at the lane is never polled slowly

    asyncio.run(main())


def test_a_reply_that_does_not_fit_the_read_is_a_failed_poll_not_a_crash(mocker):
    """Under load a late answer to a coil write was taken for a read's (pymodbus pairs RTU
    replies by arrival): the driver crashed on it and the restart left the module unpolled
    past its watchdog. Now it is a failed poll: fail-safe inputs, counted, the driver goes on."""
    from pymodbus.pdu.bit_message import WriteSingleCoilResponse

    async def main():
        async with lane(serve=False) as (_controller, driver, _sink):
            late = WriteSingleCoilResponse(address=16, bits=[True])
            mocker.patch.object(driver.client, "read_discrete_inputs", new=mocker.AsyncMock(return_value=late))
            state, detail = await driver._poll_once()
            assert (state, driver.counters["mismatched_replies"]) == ("offline", 1), detail
            assert driver.inputs.safety and driver.inputs.photocell_broken, "fail-safe, as a failed read"
            mocker.stopall()
            assert (await driver._poll_once())[0] == "online"

    asyncio.run(main())
