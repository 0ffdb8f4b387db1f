"""Pedestrian turnstile stub: the arm, its controller's interlock, and a Modbus RTU face.

The model (`TurnstileModel`) is pure: time from an injected clock. The controller
(`TurnstileController`) serves it with pymodbus on a serial path (one end of a pty) or as
RTU-over-TCP on 127.0.0.1, through firmware_stubs/modbus_face.py, as firmware_stubs/gate_controller.py does.

Register map (0-based, the defaults of `agent.config.personnel.TurnstileMap`):
  coil 0 `unlock`      ON = unlock for one passage (reads ON while unlocked); OFF = relock
  coil 1 `buzzer`      the tailgating buzzer
  input 0 `locked`     the arm is locked
  input 1 `tailgate`   the tailgating sensor saw a second body in one rotation (held `pulse_s`)
  input 2 `fire_alarm` the fire-alarm input: the arm is free, every passage is let through
  input 3 `occupied`   someone is in the passage
  input register 0     passage counter (every body through, mod 65536)

The controller's own interlock (held whatever the host writes):
- one unlock lets exactly one rotation through: the arm locks again as the first body
  passes; an unlock written while already unlocked is refused (exception 06), so two writes
  never add up to two passages;
- an unlock not used within `unlock_s` lapses (the arm relocks itself);
- the fire alarm frees the arm and no write can lock it while the alarm is on.
`walk(people)` scripts a crossing: the first body uses the unlock; the others (tailgaters)
squeeze through the same rotation: each is counted and trips the tailgate sensor. Walking
at a locked arm gets nobody through (`blocked` counts them) unless `force=True` (a jumper:
counted, tailgate sensor tripped). `muted` makes the controller stop answering.

Never: let a host write bypass the interlock, or bind anything but loopback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException

from agent.clock import SYSTEM_CLOCK, Clock
from firmware_stubs.modbus_face import ModbusFace

UNLOCK, BUZZER = 0, 1
LOCKED, TAILGATE, FIRE_ALARM, OCCUPIED = 0, 1, 2, 3
COUNTER = 0
BITS = 16
READ_COILS, READ_INPUTS, READ_INPUT_REGISTERS = 1, 2, 4


@dataclass
class TurnstileModel:
    clock: Clock = SYSTEM_CLOCK
    unlock_s: float = 10.0
    pulse_s: float = 1.0
    unlocked_until: float | None = None
    fire_alarm: bool = False
    buzzer: bool = False
    passages: int = 0
    blocked: int = 0
    tailgated_at: float | None = None
    occupied: bool = False
    #: (t, what, detail) of every unlock, relock, passage, refusal, lapse
    audit: list[tuple[float, str, str]] = field(default_factory=list)

    def _note(self, what: str, detail: str = "") -> None:
        if len(self.audit) < 10_000:
            self.audit.append((self.clock.monotonic(), what, detail))

    def update(self) -> None:
        now = self.clock.monotonic()
        if self.unlocked_until is not None and now >= self.unlocked_until:
            self.unlocked_until = None
            self._note("lapsed")

    @property
    def unlocked(self) -> bool:
        self.update()
        return self.unlocked_until is not None

    @property
    def locked(self) -> bool:
        return not (self.unlocked or self.fire_alarm)

    @property
    def tailgate(self) -> bool:
        return self.tailgated_at is not None and self.clock.monotonic() < self.tailgated_at + self.pulse_s

    def command_unlock(self, on: bool) -> str:
        """The host wrote the unlock coil. Returns a refusal reason, or ""."""
        if not on:
            if self.unlocked:
                self._note("relocked")
            self.unlocked_until = None
            return ""
        if self.unlocked:
            self._note("refused", "already unlocked")
            return "already unlocked: one unlock, one passage"
        self.unlocked_until = self.clock.monotonic() + self.unlock_s
        self._note("unlocked")
        return ""

    def walk(self, people: int = 1, *, force: bool = False) -> int:
        """People try to cross now, in one rotation. Returns how many got through."""
        if people < 1:
            return 0
        if not self.fire_alarm and not self.unlocked and not force:
            self.blocked += people
            self._note("blocked", str(people))
            return 0
        if self.fire_alarm:
            self.passages = (self.passages + people) % 65536
            self._note("passage", f"{people} (fire alarm: free)")
            return people
        tailgaters = people - 1 if self.unlocked else people  # a jumper at a locked arm counts too
        self.unlocked_until = None  # the arm locks behind the first body
        self.passages = (self.passages + people) % 65536
        self._note("passage", str(people))
        if tailgaters:
            self.tailgated_at = self.clock.monotonic()
            self._note("tailgate", str(tailgaters))
        return people


class TurnstileController(ModbusFace):
    bits = BITS
    input_registers = COUNTER + 1
    tick_name = "turnstile-tick"

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, unit_id: int = 1, unlock_s: float = 10.0,
                 pulse_s: float = 1.0, tick_s: float = 0.02):
        self.model = TurnstileModel(clock=clock, unlock_s=unlock_s, pulse_s=pulse_s)
        self.unit_id = unit_id
        self.tick_s = tick_s
        self.muted = False
        self.requests = 0
        self.refusals: list[str] = []

    def inputs(self) -> list[bool]:
        m = self.model
        bits = [False] * BITS
        bits[LOCKED], bits[TAILGATE], bits[FIRE_ALARM], bits[OCCUPIED] = m.locked, m.tailgate, m.fire_alarm, m.occupied
        return bits

    def coils(self) -> list[bool]:
        bits = [False] * BITS
        bits[UNLOCK], bits[BUZZER] = self.model.unlocked, self.model.buzzer
        return bits

    def _heard(self, device_id: int) -> None:
        if self.muted or device_id != self.unit_id:
            raise NoSuchIdException(f"unit {device_id} does not answer")
        self.requests += 1

    def read(self, device_id: int, func_code: int, address: int, count: int):
        self._heard(device_id)
        if func_code == READ_INPUT_REGISTERS:
            if address != COUNTER or count != 1:
                return ExcCodes.ILLEGAL_ADDRESS
            return [self.model.passages]
        return self.read_bits(func_code, address, count)

    def write_coils(self, device_id: int, address: int, values: list[bool]):
        self._heard(device_id)
        if address < 0 or address + len(values) > BITS:
            return ExcCodes.ILLEGAL_ADDRESS
        for i, value in enumerate(values, start=address):
            if i == UNLOCK:
                reason = self.model.command_unlock(value)
                if reason:
                    self.refusals.append(reason)
                    return ExcCodes.DEVICE_BUSY
            elif i == BUZZER:
                self.model.buzzer = value
        return None
