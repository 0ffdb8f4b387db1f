"""The Modbus RTU face a controller stub shows the agent: pymodbus serving the controller's
live image on a serial path (one end of a pty) or as RTU-over-TCP on 127.0.0.1, and a ticker
that runs the controller's model even when nobody polls.

A controller (firmware_stubs/gate_controller.py, firmware_stubs/turnstile.py) subclasses
`ModbusFace` and gives `unit_id`, `model` (with `update()`), `tick_s`, and the two calls every
request goes to: `read(device_id, func_code, address, count)` and
`write_coils(device_id, address, values)`, and the image `read_bits` windows: `inputs()`, `coils()`. There is no stored image: every read is computed
from the model, every write goes through the controller's interlock.

Never: bind anything but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.server import ModbusSerialServer, ModbusTcpServer


class _ControllerStore(ModbusServerContext):
    """A pymodbus datastore whose reads and writes go to the controller (no stored image)."""

    def __init__(self, controller: ModbusFace):  # noqa: D107 - no super(): no fixed blocks
        self.controller = controller
        self.old_simulator = True  # tells pymodbus to call our async_get/setValues directly
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return [self.controller.unit_id]

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1):
        return self.controller.read(device_id, func_code, address, count)

    async def async_setValues(self, device_id: int, func_code: int, address: int, values: Sequence[bool]):
        return self.controller.write_coils(device_id, address, list(values))


READ_INPUTS = 2  # FC02; FC01 reads coils


class ModbusFace:
    """Serving and ticking for a controller stub; see the module docstring for what it needs."""

    tick_name = "controller-tick"
    bits = 32  # discrete inputs and coils 0..bits-1
    unit_id: int
    tick_s: float

    port: int | None = None  # the TCP port, once serving RTU-over-TCP
    _server: ModbusSerialServer | ModbusTcpServer | None = None
    _ticker: asyncio.Task | None = None

    def read(self, device_id: int, func_code: int, address: int, count: int):
        raise NotImplementedError

    def write_coils(self, device_id: int, address: int, values: list[bool]):
        raise NotImplementedError

    def inputs(self) -> list[bool]:
        raise NotImplementedError

    def coils(self) -> list[bool]:
        raise NotImplementedError

    def read_bits(self, func_code: int, address: int, count: int):
        """FC01/FC02: `count` coils or discrete inputs from `address`, or Modbus exception 02."""
        if address < 0 or count < 1 or address + count > self.bits:
            return ExcCodes.ILLEGAL_ADDRESS
        bits = self.inputs() if func_code == READ_INPUTS else self.coils()
        return bits[address : address + count]

    def _trace(self) -> Callable[[bool, bytes], bytes] | None:
        """pymodbus's trace_packet hook for every frame on the wire; None: no trace."""
        return None

    async def start_serial(self, port: str, baudrate: int = 19200) -> None:
        """Serve Modbus RTU on a serial device path (e.g. one end of a pty pair)."""
        self._server = ModbusSerialServer(
            _ControllerStore(self), framer=FramerType.RTU, port=port, baudrate=baudrate, ignore_missing_devices=True,
            trace_packet=self._trace(),
        )
        await self._serve()

    async def start_tcp(self, port: int = 0) -> int:
        """Serve Modbus RTU frames over TCP on 127.0.0.1; returns the port."""
        self._server = ModbusTcpServer(
            _ControllerStore(self), framer=FramerType.RTU, address=("127.0.0.1", port), ignore_missing_devices=True,
            trace_packet=self._trace(),
        )
        await self._serve()
        self.port = self._server.transport.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self) -> None:
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
