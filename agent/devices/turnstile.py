"""Pedestrian turnstile driver: a Modbus RTU controller (firmware_stubs/turnstile.py is its stub).

Polls the discrete inputs (locked, tailgate, fire alarm, occupied) and the passage counter
(an input register) at `poll_hz`, and emits a `TurnstileInputs` snapshot whenever one
changes. The personnel lane drives it with `unlock()` (one passage) and `relock()`.

After `MAX_FAILED_POLLS` failed polls in a row (one slow reply is not a loss: unlike the
barrier, a turnstile locked by default is safe while the host cannot see it) the driver emits
a stale snapshot (`stale=True`; the lane raises `turnstile_lost`) and raises `DeviceOffline`;
the supervisor reopens it. The controller's own interlock refuses an unlock while unlocked
(exception 06): `unlock()` raises `DeviceRefusedError` then.

Never: block the event loop; write the unlock coil from anywhere but `unlock()`/`relock()`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pymodbus.exceptions import ModbusException

from agent.config.devices import Turnstile
from agent.devices.base import Driver
from agent.devices.gate_io import MAX_FAILED_POLLS, GateIoDriver
from agent.errors import DeviceOffline, DeviceRefusedError


@dataclass(frozen=True)
class TurnstileInputs:
    locked: bool
    tailgate: bool
    fire_alarm: bool
    occupied: bool
    passages: int  # the controller's counter, mod 65536
    stale: bool = False


STALE = TurnstileInputs(locked=True, tailgate=False, fire_alarm=False, occupied=False, passages=-1, stale=True)


class TurnstileDriver(Driver[Turnstile]):
    _make_client = GateIoDriver._make_client  # the same RTU client, serial path or socket://

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = None
        self.inputs: TurnstileInputs = STALE
        self._emitted: TurnstileInputs | None = None
        m = self.config.map
        addrs = (m.locked, m.tailgate, m.fire_alarm, m.occupied)
        self._first, self._count = min(addrs), max(addrs) - min(addrs) + 1
        # one transaction on the line at a time: an unlock written between a poll's two reads
        # would otherwise take the other's reply on an RTU line
        self._bus = asyncio.Lock()

    async def open(self) -> None:
        await self.close()
        self.client = self._make_client()
        try:
            connected = await self.client.connect()
        except (OSError, ModbusException) as err:
            connected = False
            self.detail = str(err)
        if not connected or not await self._poll_once():
            await self.close()
            self.count("offline")
            raise DeviceOffline(f"{self.name}: turnstile controller at {self.config.port} does not answer")

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()

    async def serve(self) -> None:
        period, failed = 1.0 / self.config.poll_hz, 0
        loop = asyncio.get_running_loop()
        while not self.stopping:
            started = loop.time()
            failed = 0 if await self._poll_once() else failed + 1
            if failed >= MAX_FAILED_POLLS:
                await self._take(STALE)
                raise DeviceOffline(f"{self.name}: {failed} polls without an answer")
            await asyncio.sleep(max(0.0, period - (loop.time() - started)))

    async def _poll_once(self) -> bool:
        if self.client is None:
            raise DeviceOffline(f"{self.name}: not open")
        m, unit = self.config.map, self.config.unit_id
        try:
            async with self._bus:
                bits = await self.client.read_discrete_inputs(self._first, count=self._count, device_id=unit)
                regs = await self.client.read_input_registers(m.counter, count=1, device_id=unit)
        except (ModbusException, OSError):
            self.count("read_failures")
            return False
        if bits.isError() or regs.isError():
            self.count("exception_replies")
            return False
        if len(bits.bits) < self._count or not regs.registers:
            self.count("short_replies")
            return False
        self.count("polls")
        self.count("bytes", 8)  # proof of life for the supervisor
        b = bits.bits
        await self._take(TurnstileInputs(
            locked=bool(b[m.locked - self._first]), tailgate=bool(b[m.tailgate - self._first]),
            fire_alarm=bool(b[m.fire_alarm - self._first]), occupied=bool(b[m.occupied - self._first]),
            passages=int(regs.registers[0])))
        return True

    async def _take(self, inputs: TurnstileInputs) -> None:
        self.inputs = inputs
        if inputs != self._emitted:
            self._emitted = inputs
            await self.emit(inputs)

    async def unlock(self) -> None:
        """Unlock for one passage. Raises DeviceRefusedError (the controller's interlock) or
        DeviceOffline (no answer)."""
        await self._write(True)

    async def relock(self) -> None:
        await self._write(False)

    async def _write(self, on: bool) -> None:
        if self.client is None:
            raise DeviceOffline(f"{self.name}: not open")
        address = self.config.map.unlock
        try:
            async with self._bus:
                reply = await self.client.write_coil(address, on, device_id=self.config.unit_id)
        except (ModbusException, OSError) as err:
            self.count("write_failures")
            raise DeviceOffline(f"{self.name}: unlock coil write got no answer: {err}") from err
        if reply.isError():
            self.count("device_refused")
            raise DeviceRefusedError(f"{self.name}: controller refused unlock={on}: {reply}")
        self.count("unlocks" if on else "relocks")
