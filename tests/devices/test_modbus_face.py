"""The controller stubs' Modbus face on the wire (RTU over TCP on 127.0.0.1, a real pymodbus
client): what a unit answers inside and outside its image, that another unit id and a muted
controller stay silent like a dead module, and that a refused coil write changes nothing."""

from __future__ import annotations

import asyncio

from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient

from agent.clock import FakeClock
from agent.config.devices import GateIoMap
from firmware_stubs.gate_controller import GateController
from firmware_stubs.turnstile import COUNTER, TurnstileController

M = GateIoMap()


async def _client(port: int) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU, timeout=0.3, retries=0)
    assert await client.connect()
    return client


async def _silent(call) -> bool:
    try:
        await call
    except Exception:  # noqa: BLE001 - pymodbus raises ModbusIOException on no answer
        return True
    return False


def test_gate_controller_answers_its_image_and_nothing_else():
    async def main():
        controller = GateController(clock=FakeClock(), watchdog_s=0)
        client = await _client(await controller.start_tcp())
        try:
            inputs = await client.read_discrete_inputs(0, count=32, device_id=1)
            assert inputs.bits[:32] == controller.inputs()
            window = await client.read_discrete_inputs(M.closed_limit, count=3, device_id=1)
            assert window.bits[:3] == controller.inputs()[M.closed_limit : M.closed_limit + 3]
            assert (await client.read_discrete_inputs(30, count=4, device_id=1)).exception_code == 2
            assert (await client.read_holding_registers(0, count=1, device_id=1)).exception_code == 2
            echo = await client.write_coil(M.barrier_open, True, device_id=1)
            assert not echo.isError() and echo.bits[0] and controller.coils()[M.barrier_open]
            controller.model.set_loop("safety", True)
            refused = await client.write_coils(M.barrier_open, [False, True], device_id=1)
            assert refused.exception_code == 6 and controller.refusals == ["safety loop occupied"]
            assert (await client.read_coils(M.barrier_open, count=2, device_id=1)).bits[:2] == [True, False]
            assert await _silent(client.read_coils(0, count=1, device_id=2)), "another unit's address answered"
            controller.muted = True
            assert await _silent(client.read_coils(0, count=1, device_id=1)), "a muted module answered"
        finally:
            client.close()
            await controller.stop()

    asyncio.run(main())


def test_turnstile_serves_its_passage_counter_as_an_input_register():
    async def main():
        controller = TurnstileController(clock=FakeClock())
        client = await _client(await controller.start_tcp())
        try:
            assert not (await client.write_coil(0, True, device_id=1)).isError()  # unlock
            controller.model.walk()
            assert (await client.read_input_registers(COUNTER, count=1, device_id=1)).registers == [1]
            assert (await client.read_input_registers(COUNTER, count=2, device_id=1)).exception_code == 2
            assert (await client.read_discrete_inputs(0, count=16, device_id=1)).bits[:16] == controller.inputs()
        finally:
            client.close()
            await controller.stop()

    asyncio.run(main())
