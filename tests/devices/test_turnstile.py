"""The turnstile: its controller's own interlock (pure model) and the driver over a real pty
against the pymodbus RTU stub (null-modem cable), with unlock, passage counter, tailgating,
fire alarm and a dead controller."""

from __future__ import annotations

import asyncio

import pytest

from agent.clock import FakeClock
from agent.config.devices import Turnstile
from agent.devices.supervisor import Supervisor
from agent.devices.turnstile import TurnstileDriver, TurnstileInputs
from agent.errors import DeviceRefusedError
from firmware_stubs.turnstile import TurnstileController, TurnstileModel
from simulators.null_modem import NullModem


def test_one_unlock_lets_one_body_through_and_lapses():
    clock = FakeClock()
    m = TurnstileModel(clock=clock, unlock_s=5.0)
    assert m.walk() == 0 and m.blocked == 1 and m.passages == 0
    assert m.command_unlock(True) == ""
    assert m.command_unlock(True).startswith("already unlocked")  # two writes are still one passage
    assert m.walk() == 1 and m.locked and m.passages == 1
    assert m.walk() == 0, "the arm locked behind the first body"
    m.command_unlock(True)
    clock.advance(5.1)
    assert m.locked and m.walk() == 0, "an unused unlock lapses"


def test_tailgaters_are_counted_and_trip_the_sensor_and_fire_frees_the_arm():
    clock = FakeClock()
    m = TurnstileModel(clock=clock, pulse_s=1.0)
    m.command_unlock(True)
    assert m.walk(2) == 2 and m.passages == 2 and m.tailgate
    clock.advance(1.5)
    assert not m.tailgate
    m.fire_alarm = True
    assert not m.locked and m.walk(3) == 3 and m.passages == 5
    assert m.walk(1, force=True) == 1


class Sink:
    def __init__(self) -> None:
        self.events: list[object] = []

    async def emit(self, device: str, event: object) -> None:
        self.events.append(event)

    def last(self) -> TurnstileInputs | None:
        snaps = [e for e in self.events if isinstance(e, TurnstileInputs)]
        return snaps[-1] if snaps else None


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def test_the_driver_over_a_real_pty():
    async def main():
        cable = NullModem()
        stub = TurnstileController(unlock_s=5.0, pulse_s=0.5)
        await stub.start_serial(cable.a, baudrate=115200)
        sink = Sink()
        cfg = Turnstile(kind="turnstile", name="ts-1", port=cable.b, poll_hz=40, timeout_s=0.15,
                        line={"baudrate": 115200}, reconnect_base_s=0.05, reconnect_cap_s=0.2)
        driver = TurnstileDriver(cfg, sink)
        sup = Supervisor([driver])
        task = sup.start()
        try:
            await until(lambda: sink.last() is not None and not sink.last().stale, "first snapshot")
            assert sink.last().locked and sink.last().passages == 0
            await driver.unlock()
            await until(lambda: not sink.last().locked, "unlocked")
            with pytest.raises(DeviceRefusedError):
                await driver.unlock()
            stub.model.walk()
            await until(lambda: sink.last().passages == 1 and sink.last().locked, "one passage, relocked")
            await driver.unlock()
            stub.model.walk(2)
            await until(lambda: sink.last().passages == 3, "tailgater counted")
            assert any(isinstance(e, TurnstileInputs) and e.tailgate for e in sink.events)
            stub.model.fire_alarm = True
            await until(lambda: sink.last().fire_alarm and not sink.last().locked, "fire alarm frees the arm")
            stub.model.fire_alarm = False
            stub.muted = True
            await until(lambda: sink.last().stale, "dead controller reads stale")
            stub.muted = False
            await until(lambda: not sink.last().stale, "controller back")
            assert driver.counters["device_refused"] == 1
        finally:
            await sup.stop()
            await task
            await stub.stop()
            cable.close()

    asyncio.run(main())
