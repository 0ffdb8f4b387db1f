"""The Modbus RTU face a controller stub shows the agent: pymodbus serving the controller's
live image on a serial path (one end of a pty) or as RTU-over-TCP on 127.0.0.1, and a ticker
that runs the controller's model even when nobody polls.

A controller (firmware_stubs/gate_controller.py, firmware_stubs/turnstile.py) subclasses
`ModbusFace` and gives `unit_id`, `model` (with `update()`), `tick_s`, `bits` (its coils and
discrete inputs), `input_registers`, and the two calls every request goes to:
`read(device_id, func_code, address, count)` and `write_coils(device_id, address, values)`,
and the image `read_bits` windows: `inputs()`, `coils()`.

How it sits on pymodbus's public datastore (`pymodbus.simulator.SimDevice`): the device's
blocks are exactly the controller's size (`bits` coils and discrete inputs, `input_registers`
input registers, no holding registers), so pymodbus answers an address outside them with
exception 02 itself. Every request inside them goes to the device's `action` first: a read
refreshes the block from the controller's `read` (there is no stored image: every read is
computed from the model), a coil write goes through the controller's `write_coils` (its
interlock answers an exception code, and then pymodbus changes nothing). A second device at
id 0 takes every other unit id and stays silent (`NoSuchIdException`, served with
`ignore_missing_devices`), like the muted controller: a dead module on the bus.

Never: bind anything but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

READ_INPUTS = 2  # FC02; FC01 reads coils
BIT_CODES = (1, 2, 5, 15)  # the function codes that address coils or discrete inputs
ANOTHER_UNIT = -1  # the unit id the catch-all device reports: never the controller's


def _registers(bits: list[bool]) -> list[int]:
    """Bits as 16-bit registers, bit 0 first (how pymodbus keeps a bit block)."""
    return [sum(1 << i for i, on in enumerate(bits[at : at + 16]) if on) for at in range(0, len(bits), 16)]


class ModbusFace:
    """Serving and ticking for a controller stub; see the module docstring for what it needs."""

    tick_name = "controller-tick"
    bits = 32  # discrete inputs and coils 0..bits-1 (a multiple of 16)
    input_registers = 0  # input registers 0..n-1 (FC04); none when 0
    unit_id: int
    tick_s: float

    port: int | None = None  # the TCP port, once serving RTU-over-TCP
    _server: ModbusSerialServer | ModbusTcpServer | None = None
    _ticker: asyncio.Task | None = None

    def read(self, device_id: int, func_code: int, address: int, count: int) -> list[bool] | list[int] | ExcCodes:
        raise NotImplementedError

    def write_coils(self, device_id: int, address: int, values: list[bool]) -> ExcCodes | None:
        raise NotImplementedError

    def inputs(self) -> list[bool]:
        raise NotImplementedError

    def coils(self) -> list[bool]:
        raise NotImplementedError

    def read_bits(self, func_code: int, address: int, count: int) -> list[bool] | ExcCodes:
        """FC01/FC02: `count` coils or discrete inputs from `address`, or Modbus exception 02."""
        if address < 0 or count < 1 or address + count > self.bits:
            return ExcCodes.ILLEGAL_ADDRESS
        bits = self.inputs() if func_code == READ_INPUTS else self.coils()
        return bits[address : address + count]

    def _trace(self) -> Callable[[bool, bytes], bytes] | None:
        """pymodbus's trace_packet hook for every frame on the wire; None: no trace."""
        return None

    # -- the datastore ----------------------------------------------------------------------
    def _devices(self) -> list[SimDevice]:
        devices = [self._device(self.unit_id, self.unit_id)]
        if self.unit_id != 0:
            devices.append(self._device(0, ANOTHER_UNIT))  # id 0: every unit id not listed
        return devices

    def _device(self, device_id: int, answers_as: int) -> SimDevice:
        bits = [SimData(0, count=self.bits, values=False, datatype=DataType.BITS)]
        none = [SimData(0, datatype=DataType.INVALID)]
        inputs = [SimData(0, count=self.input_registers, datatype=DataType.UINT16)] if self.input_registers else none
        return SimDevice(device_id, simdata=(list(bits), list(bits), none, inputs),
                         action=functools.partial(self._request, answers_as))

    async def _request(self, device_id: int, func_code: int, start: int, address: int, count: int,
                       registers: list[int], values: list[int] | list[bool] | None) -> ExcCodes | None:
        """pymodbus's SimDevice action, before every access inside the blocks."""
        if values is not None:  # FC05/FC15 (the only writable block: coils)
            return self.write_coils(device_id, address, [bool(v) for v in values])
        if func_code in BIT_CODES:  # the whole image: pymodbus cuts the window it was asked for
            got = self.read(device_id, READ_INPUTS if func_code == READ_INPUTS else 1, 0, self.bits)
            if isinstance(got, ExcCodes):
                return got
            registers[: self.bits // 16] = _registers([bool(b) for b in got])
            return None
        got = self.read(device_id, func_code, address, count)
        if isinstance(got, ExcCodes):
            return got
        registers[address - start : address - start + count] = [int(v) & 0xFFFF for v in got]
        return None

    # -- serving ----------------------------------------------------------------------------
    async def start_serial(self, port: str, baudrate: int = 19200) -> None:
        """Serve Modbus RTU on a serial device path (e.g. one end of a pty pair)."""
        self._server = ModbusSerialServer(
            self._devices(), framer=FramerType.RTU, port=port, baudrate=baudrate, ignore_missing_devices=True,
            trace_packet=self._trace(),
        )
        await self._serve()

    async def start_tcp(self, port: int = 0) -> int:
        """Serve Modbus RTU frames over TCP on 127.0.0.1; returns the port."""
        server = ModbusTcpServer(
            self._devices(), framer=FramerType.RTU, address=("127.0.0.1", port), ignore_missing_devices=True,
            trace_packet=self._trace(),
        )
        self._server = server
        await self._serve()
        assert server.transport is not None
        self.port = server.transport.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self) -> None:
        assert self._server is not None
        await self._server.serve_forever(background=True)
        self._ticker = asyncio.create_task(self._tick(), name=self.tick_name)

    async def _tick(self) -> None:
        # the model moves (barrier travel, watchdog, unlock lapse) even when nobody polls
        while True:
            self.model.update()
            await asyncio.sleep(self.tick_s)

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._server:
            await self._server.shutdown()
            self._server = None
