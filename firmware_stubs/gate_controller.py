"""Gate controller firmware stub: a Modbus RTU digital I/O module wired to a barrier, three
loops, a photocell and an e-stop, served by pymodbus on a serial port (a pty path) or as
RTU-over-TCP on 127.0.0.1.

The Modbus image is computed from `gate_barrier.BarrierModel` on every request: discrete
inputs (FC02) show loops, limits, photocell and e-stop at the addresses of a `GateIoMap`;
coils (FC01/05/15) carry barrier open/close and the lights. A barrier coil write goes through
the model's interlock; a refused one is answered with Modbus exception 06 (device busy) and
leaves the coils unchanged. Every request feeds the communication watchdog.

`muted = True` makes the module stop answering (a dead module on the bus), so the agent's
offline/recovery path can be tested without pulling a cable.

Never: let a host write bypass the model's interlock, or bind anything but loopback.
"""

from __future__ import annotations

import random

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.devices import GateIoMap
from firmware_stubs.gate_barrier import BarrierModel
from firmware_stubs.modbus_face import ModbusFace

BITS = 32  # discrete inputs 0..31 and coils 0..31, like a 32-channel I/O module
READ_BITS, READ_INPUTS = 1, 2


class GateController(ModbusFace):
    bits = BITS
    tick_name = "gate-controller-tick"

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        io_map: GateIoMap | None = None,
        unit_id: int = 1,
        travel_s: float = 4.0,
        travel_jitter: float = 0.0,
        watchdog_s: float = 2.0,
        tick_s: float = 0.02,
    ):
        self.map = io_map or GateIoMap()
        self.unit_id = unit_id
        self.model = BarrierModel(
            clock=clock, rng=rng or random.Random(0), travel_s=travel_s, travel_jitter=travel_jitter, watchdog_s=watchdog_s
        )
        self.tick_s = tick_s
        self.muted = False
        self.requests = 0
        self.refusals: list[str] = []
        #: (sent_by_controller, frame bytes) of every RTU frame on the wire, for field debugging
        self.wire_log: list[tuple[bool, bytes]] = []
        self._spare_coils = [False] * BITS

    # -- the Modbus image -----------------------------------------------------------------
    def inputs(self) -> list[bool]:
        m, model = self.map, self.model
        bits = [False] * BITS
        bits[m.approach_loop] = model.occupied("approach")
        bits[m.safety_loop] = model.occupied("safety")
        bits[m.exit_loop] = model.occupied("exit")
        bits[m.open_limit] = model.open_limit
        bits[m.closed_limit] = model.closed_limit
        # active-low wiring: the input is ON while the beam is intact / the e-stop chain closed
        bits[m.photocell] = (not model.photocell_broken) if m.photocell_active_low else model.photocell_broken
        bits[m.estop] = (not model.estop) if m.estop_active_low else model.estop
        return bits

    def coils(self) -> list[bool]:
        m, model = self.map, self.model
        bits = list(self._spare_coils)
        bits[m.barrier_open] = model.open_cmd
        bits[m.barrier_close] = model.close_cmd
        bits[m.light_red] = model.red
        bits[m.light_green] = model.green
        return bits

    def _heard(self, device_id: int) -> None:
        if self.muted or device_id != self.unit_id:
            # pymodbus stays silent on an unknown id (ignore_missing_devices), like a dead module
            raise NoSuchIdException(f"unit {device_id} does not answer")
        self.requests += 1
        self.model.host_request()

    def read(self, device_id: int, func_code: int, address: int, count: int):
        self._heard(device_id)
        return self.read_bits(func_code, address, count)

    def write_coils(self, device_id: int, address: int, values: list[bool]):
        self._heard(device_id)
        if address < 0 or address + len(values) > BITS:
            return ExcCodes.ILLEGAL_ADDRESS
        wanted = self.coils()
        wanted[address : address + len(values)] = values
        m = self.map
        touched = range(address, address + len(values))
        reason = self.model.command(
            open=wanted[m.barrier_open] if m.barrier_open in touched else None,
            close=wanted[m.barrier_close] if m.barrier_close in touched else None,
        )
        if reason:
            self.refusals.append(reason)
            return ExcCodes.DEVICE_BUSY
        if m.light_red in touched:
            self.model.red = wanted[m.light_red]
        if m.light_green in touched:
            self.model.green = wanted[m.light_green]
        for i in touched:
            if i not in (m.barrier_open, m.barrier_close, m.light_red, m.light_green):
                self._spare_coils[i] = wanted[i]
        return None

    # -- serving (firmware_stubs/modbus_face.py) -----------------------------------------
    def _trace(self):
        return self._log_frame

    def _log_frame(self, sending: bool, data: bytes) -> bytes:
        if len(self.wire_log) < 10_000:
            self.wire_log.append((sending, bytes(data)))
        return data
