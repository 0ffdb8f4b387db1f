"""Gate lane I/O: a Modbus RTU digital I/O module (ADAM-4000 class) wired to the lane's loops,
barrier limits, photocell, e-stop, barrier motor and lights.

The driver polls the discrete inputs (FC02) through pymodbus's async client and emits an
`LaneInputs` snapshot whenever one changes; the polling also keeps the module's communication
watchdog fed. It polls at `poll_hz` (20 Hz) whenever anything can move or is about to: the
barrier off its closed limit, a loop or the beam occupied, e-stop, stale inputs, or an output
written in the last poll. A lane at rest for REST_AFTER_S (barrier down on its limit, every
loop and the beam clear, no output written) is polled at `idle_poll_hz` (4 Hz): nothing there
needs a reaction faster than a truck rolls onto the approach loop, and 4 Hz still feeds a 2 s
controller watchdog eight times over (docs/gate.md, "Polling rate"). The gate workflow drives the outputs with `set_outputs(...)`
(FC05 per coil, FC15 when all four are written together).

Fail-safe reading: a read that fails makes the lane look dangerous, not clear: `safety` and
`photocell_broken` read True until a good read says otherwise. After `MAX_FAILED_POLLS`
failed polls in a row the driver reports the module offline and raises `DeviceOffline`, so
the supervisor reopens it with backoff while every other device carries on.

Never: energise barrier close while the last inputs show the safety loop occupied, the
photocell broken or e-stop active (or before any input was read); energise open and close
together; block the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.devices import GateIo
from agent.contract.gate import LaneInputs
from agent.contract.node import DeviceState
from agent.devices.base import Driver
from agent.errors import DeviceOffline, DeviceRefusedError, UnsafeCommandError
from agent.interfaces import DeviceSink

MAX_FAILED_POLLS = 3
#: seconds a lane must stay at rest (no write, nothing on a loop) before it is polled slowly:
#: a truck creeping onto the approach loop makes it chatter, and every bounce must be seen
REST_AFTER_S = 5.0


FAIL_SAFE = LaneInputs(
    approach=False, safety=True, exit=False, open_limit=False, closed_limit=False, photocell_broken=True, estop=False, stale=True
)


class GateIoDriver(Driver[GateIo]):
    def __init__(self, config: GateIo, sink: DeviceSink, clock: Clock = SYSTEM_CLOCK):
        super().__init__(config, sink, clock)
        self.client: AsyncModbusSerialClient | AsyncModbusTcpClient | None = None
        self.inputs: LaneInputs = FAIL_SAFE
        self._emitted: LaneInputs | None = None
        m = config.map
        self._input_addrs = {
            "approach": m.approach_loop,
            "safety": m.safety_loop,
            "exit": m.exit_loop,
            "open_limit": m.open_limit,
            "closed_limit": m.closed_limit,
            "photocell": m.photocell,
            "estop": m.estop,
        }
        self._first_input = min(self._input_addrs.values())
        self._input_count = max(self._input_addrs.values()) - self._first_input + 1
        self._wrote = asyncio.Event()  # an output was written: poll fast from now on

    # -- port ------------------------------------------------------------------------------
    def _make_client(self) -> AsyncModbusSerialClient | AsyncModbusTcpClient:
        cfg = self.config
        # reconnect_delay=0: the supervisor owns reopening, not pymodbus
        common: dict[str, Any] = dict(framer=FramerType.RTU, timeout=cfg.timeout_s, retries=0, reconnect_delay=0, name=cfg.name)
        if cfg.port.startswith("socket://"):
            host, _, port = cfg.port[len("socket://") :].rstrip("/").rpartition(":")
            return AsyncModbusTcpClient(host, port=int(port), **common)
        line = cfg.line
        return AsyncModbusSerialClient(
            cfg.port, baudrate=line.baudrate, bytesize=line.bytesize, parity=line.parity, stopbits=line.stopbits, **common
        )

    async def open(self) -> None:
        await self.close()
        self.client = self._make_client()
        why = ""
        try:
            connected = await self.client.connect()
        except (OSError, ModbusException) as err:
            connected, why = False, f": {err}"
        if not connected:
            await self._fail("offline", f"cannot open {self.config.port}{why}")
        # a port that opens is not yet a module that answers
        state, detail = await self._poll_once()
        if state != "online":
            await self._fail(state, detail)
        await self.set_status("online", "")

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()

    async def _fail(self, state: DeviceState, detail: str) -> None:
        self.count("offline" if state == "offline" else "errors")
        # the same text the supervisor will report, so its status update is a no-op
        message = f"{self.name}: {detail}"
        await self.set_status(state, message)
        await self.close()
        raise DeviceOffline(message)

    # -- inputs ----------------------------------------------------------------------------
    async def serve(self) -> None:
        fast = 1.0 / self.config.poll_hz
        idle = max(fast, 1.0 / self.config.idle_poll_hz)
        failed = 0
        loop = asyncio.get_running_loop()
        rest_since: float | None = None
        while not self.stopping:
            started = loop.time()
            self._wrote.clear()
            state, detail = await self._poll_once()
            failed = 0 if state == "online" else failed + 1
            if failed >= MAX_FAILED_POLLS:
                await self._fail(state, detail)
            if self._wrote.is_set() or not self.inputs.at_rest:
                rest_since = None
            elif rest_since is None:
                rest_since = started
            if rest_since is None or started - rest_since < REST_AFTER_S:
                await asyncio.sleep(max(0.0, fast - (loop.time() - started)))
                continue
            self.count("idle_polls")
            try:  # at rest: wait the idle period, or less if the lane writes an output
                async with asyncio.timeout(max(0.0, idle - (loop.time() - started))):
                    await self._wrote.wait()
            except TimeoutError:
                pass

    async def _poll_once(self) -> tuple[DeviceState, str]:
        """Read the inputs once; emit on change. Returns (status it suggests, detail)."""
        if self.client is None:
            raise DeviceOffline(f"{self.name}: not open")
        try:
            reply = await self.client.read_discrete_inputs(
                self._first_input, count=self._input_count, device_id=self.config.unit_id
            )
        except (ModbusException, OSError) as err:  # TimeoutError is an OSError
            self.count("read_failures")
            outcome = ("offline", f"no answer: {err}")
        else:
            if reply.isError():
                self.count("exception_replies")
                outcome = ("error", f"module refused the read: {reply}")
            elif len(getattr(reply, "bits", None) or ()) < self._input_count:
                # a late answer to an earlier request (a coil write) taken for this read's: a failed
                # poll, not a driver crash (a restart would leave the module unpolled past its watchdog)
                self.count("mismatched_replies")
                outcome = ("offline", f"reply does not fit the read: {type(reply).__name__}")
            else:
                self.count("polls")
                # RTU reply size on the wire; the supervisor reads "bytes" as proof of life
                self.count("bytes", 5 + (self._input_count + 7) // 8)
                await self._take(self._decode(reply.bits))
                return ("online", "")
        await self._take(FAIL_SAFE)
        return outcome

    def _decode(self, bits: Sequence[bool]) -> LaneInputs:
        m = self.config.map

        def at(name: str) -> bool:
            return bool(bits[self._input_addrs[name] - self._first_input])

        photocell, estop = at("photocell"), at("estop")
        return LaneInputs(
            approach=at("approach"),
            safety=at("safety"),
            exit=at("exit"),
            open_limit=at("open_limit"),
            closed_limit=at("closed_limit"),
            photocell_broken=(not photocell) if m.photocell_active_low else photocell,
            estop=(not estop) if m.estop_active_low else estop,
        )

    async def _take(self, inputs: LaneInputs) -> None:
        self.inputs = inputs
        if inputs != self._emitted:
            self._emitted = inputs
            self.count("input_changes")
            await self.emit(inputs)

    # -- outputs ---------------------------------------------------------------------------
    async def set_outputs(
        self,
        *,
        barrier_open: bool | None = None,
        barrier_close: bool | None = None,
        red: bool | None = None,
        green: bool | None = None,
    ) -> None:
        """Drive the barrier and lights; None leaves an output as it is.

        Raises `UnsafeCommandError` (nothing written) when closing would be unsafe by the last
        inputs, `DeviceRefusedError` when the module's own interlock refuses, `DeviceOffline`
        when the module does not answer.
        """
        if barrier_open and barrier_close:
            raise UnsafeCommandError("barrier open and close cannot be energised together")
        if barrier_close:
            reason = self.inputs.unsafe_to_close()
            if reason:
                self.count("unsafe_refused")
                raise UnsafeCommandError(f"barrier close refused: {reason}")
        if barrier_open and self.inputs.estop:
            self.count("unsafe_refused")
            raise UnsafeCommandError("barrier open refused: e-stop active")
        m = self.config.map
        wanted = {m.barrier_open: barrier_open, m.barrier_close: barrier_close, m.light_red: red, m.light_green: green}
        wanted = {addr: value for addr, value in wanted.items() if value is not None}
        if not wanted:
            return
        self._wrote.set()
        if self.client is None:
            raise DeviceOffline(f"{self.name}: not open")
        addrs = sorted(wanted)
        if addrs == list(range(addrs[0], addrs[0] + len(addrs))) and len(addrs) > 1:
            await self._write(addrs[0], [wanted[a] for a in addrs])
        else:
            # switch off before switching on, so open and close are never both energised
            for addr in sorted(wanted, key=lambda a: wanted[a]):
                await self._write(addr, wanted[addr])

    async def _write(self, address: int, value: bool | list[bool]) -> None:
        if self.client is None:
            raise DeviceOffline(f"{self.name}: port is not open")
        try:
            if isinstance(value, list):
                reply = await self.client.write_coils(address, value, device_id=self.config.unit_id)
            else:
                reply = await self.client.write_coil(address, value, device_id=self.config.unit_id)
        except (ModbusException, OSError) as err:  # TimeoutError is an OSError
            self.count("write_failures")
            raise DeviceOffline(f"{self.name}: write to coil {address} got no answer: {err}") from err
        if reply.isError():
            self.count("device_refused")
            raise DeviceRefusedError(f"{self.name}: module refused coil {address}={value}: {reply}")
        self.count("writes")

