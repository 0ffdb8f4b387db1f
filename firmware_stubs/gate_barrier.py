"""The physical side of a gate lane, as the gate controller sees it: barrier, loops, photocell,
e-stop, and the controller's own interlock. Pure: no sockets, no sleeps; time comes from an
injected clock and `update()` lets the model catch up with it.

Theory of operation. The barrier has a position from 0.0 (down, closed limit made) to 1.0
(up, open limit made) and a motor that is idle, opening or closing. A command starts a
movement; the motor runs to the end of travel on its own (as real barrier drives do when
pulsed), unless the interlock, e-stop or the communication watchdog stops it.

Invariants (held here, whatever the host asks):
- the barrier never moves down while the safety loop is occupied (or faulted: a loop fault
  reads as occupied), the photocell is broken, or e-stop is active;
- a close commanded in those conditions is refused; if one of them arises while closing,
  the barrier reverses at once and the close command is dropped;
- e-stop stops all motion and refuses every movement until released;
- when the host goes silent for `watchdog_s`, motion stops, the barrier coils drop and the
  light goes red;
- every movement (start, reversal, stop, limit reached) and every loop change is appended to
  `audit` with the lane's state at that moment, so a test can prove no barrier came down on
  a truck. `violations` stays empty unless the interlock is broken.

Never: sleep, touch the network, or let a host command skip the interlock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agent.clock import Clock

LOOPS = ("approach", "safety", "exit")


@dataclass(frozen=True)
class LaneMoment:
    """One audit line: what happened and how the lane looked when it did."""

    t: float
    what: str  # opening, closing, reverse, stopped, opened, closed, refused, watchdog, loop, ...
    position: float
    approach: bool
    safety: bool
    exit: bool
    photocell_broken: bool
    estop: bool
    detail: str = ""


@dataclass
class BarrierModel:
    clock: Clock
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    travel_s: float = 4.0
    travel_jitter: float = 0.0  # fraction: each movement takes travel_s * (1 +- jitter)
    watchdog_s: float = 2.0  # 0 disables the watchdog
    position: float = 0.0
    motion: str = "idle"  # idle | opening | closing
    open_cmd: bool = False
    close_cmd: bool = False
    red: bool = True
    green: bool = False
    estop: bool = False
    photocell_broken: bool = False

    def __post_init__(self) -> None:
        self.loops = dict.fromkeys(LOOPS, False)
        self.loop_faults = dict.fromkeys(LOOPS, False)
        self.audit: list[LaneMoment] = []
        self.violations: list[LaneMoment] = []
        self.watchdog_tripped = False
        self._last_t = self.clock.monotonic()
        self._last_request = self._last_t
        self._speed = 1.0 / self.travel_s

    # -- what the inputs read -------------------------------------------------------------
    def occupied(self, loop: str) -> bool:
        return self.loops[loop] or self.loop_faults[loop]

    @property
    def open_limit(self) -> bool:
        return self.position >= 1.0

    @property
    def closed_limit(self) -> bool:
        return self.position <= 0.0

    def unsafe_to_close(self) -> str:
        """Why the barrier may not move down now ('' when it may)."""
        if self.estop:
            return "e-stop active"
        if self.occupied("safety"):
            return "safety loop occupied"
        if self.photocell_broken:
            return "photocell broken"
        return ""

    # -- time -----------------------------------------------------------------------------
    def update(self) -> None:
        """Move the barrier for the time passed since the last update; run the watchdog."""
        now = self.clock.monotonic()
        if self.watchdog_s and not self.watchdog_tripped and now - self._last_request > self.watchdog_s:
            # the barrier reached wherever it got to by the moment the host fell silent
            self._travel(self._last_request + self.watchdog_s)
            self._trip_watchdog()
        self._travel(now)

    def _travel(self, until: float) -> None:
        dt = until - self._last_t
        if dt <= 0:
            return
        self._last_t = until
        if self.motion == "closing":
            if self.unsafe_to_close():
                self._note("violation", "moved down while unsafe")
                self.violations.append(self.audit[-1])
            self.position = max(0.0, self.position - dt * self._speed)
            if self.closed_limit:
                self.motion = "idle"
                self._note("closed", t=until)
        elif self.motion == "opening":
            self.position = min(1.0, self.position + dt * self._speed)
            if self.open_limit:
                self.motion = "idle"
                self._note("opened", t=until)

    def host_request(self) -> None:
        """A Modbus request arrived: the host is alive."""
        self.update()
        self._last_request = self.clock.monotonic()
        self.watchdog_tripped = False

    def _trip_watchdog(self) -> None:
        self.watchdog_tripped = True
        if self.motion != "idle":
            self.motion = "idle"
            self._note("stopped", "watchdog")
        self.open_cmd = self.close_cmd = False
        self.red, self.green = True, False
        self._note("watchdog", f"no request for {self.watchdog_s}s: safe state")

    # -- host commands (coil writes) ------------------------------------------------------
    def command(self, *, open: bool | None = None, close: bool | None = None) -> str:
        """Apply barrier coil writes; returns '' when accepted, else the refusal reason
        (the coils are then left as they were)."""
        self.update()
        want_open = self.open_cmd if open is None else open
        want_close = self.close_cmd if close is None else close
        starting_open = want_open and not self.open_cmd
        starting_close = want_close and not self.close_cmd
        reason = ""
        if want_open and want_close:
            reason = "open and close both commanded"
        elif self.estop and (starting_open or starting_close):
            reason = "e-stop active"
        elif starting_close and self.unsafe_to_close():
            reason = self.unsafe_to_close()
        if reason:
            self._note("refused", reason)
            return reason
        self.open_cmd, self.close_cmd = want_open, want_close
        if starting_open and not self.open_limit and self.motion != "opening":
            self._start("opening")
        elif starting_close and not self.closed_limit and self.motion != "closing":
            self._start("closing")
        return ""

    def _start(self, motion: str, what: str | None = None) -> None:
        self.motion = motion
        jitter = self.rng.uniform(-self.travel_jitter, self.travel_jitter) if self.travel_jitter else 0.0
        self._speed = 1.0 / (self.travel_s * (1.0 + jitter))
        self._note(what or motion)

    # -- the lane (scenario calls) --------------------------------------------------------
    def set_loop(self, name: str, occupied: bool) -> None:
        if name not in self.loops:
            raise KeyError(f"no loop {name!r}; loops: {', '.join(LOOPS)}")
        self.update()
        if self.loops[name] != occupied:
            self.loops[name] = occupied
            self._note("loop", f"{name} {'occupied' if occupied else 'clear'}")
        self._interlock()

    def set_loop_fault(self, name: str, faulted: bool) -> None:
        self.update()
        self.loop_faults[name] = faulted
        self._note("loop", f"{name} {'fault' if faulted else 'fault cleared'}")
        self._interlock()

    def set_photocell(self, broken: bool) -> None:
        self.update()
        if self.photocell_broken != broken:
            self.photocell_broken = broken
            self._note("photocell", "broken" if broken else "clear")
        self._interlock()

    def set_estop(self, active: bool) -> None:
        self.update()
        self.estop = active
        self._note("estop", "active" if active else "released")
        if active and self.motion != "idle":
            self.motion = "idle"
            self._note("stopped", "e-stop")
        self._interlock()

    def truck_arrives(self) -> None:
        self.set_loop("approach", True)

    def truck_under_barrier(self) -> None:
        self.set_loop("approach", False)
        self.set_loop("safety", True)
        self.set_photocell(True)

    def truck_leaves(self) -> None:
        self.set_loop("exit", True)
        self.set_photocell(False)
        self.set_loop("safety", False)

    def truck_gone(self) -> None:
        self.set_loop("exit", False)

    def _interlock(self) -> None:
        if self.motion == "closing" and self.unsafe_to_close():
            self.close_cmd = False
            if self.estop:
                self.motion = "idle"
                self._note("stopped", "e-stop")
            else:
                self._start("opening", "reverse")

    # -- audit ----------------------------------------------------------------------------
    def _note(self, what: str, detail: str = "", t: float | None = None) -> None:
        self.audit.append(
            LaneMoment(
                t=self.clock.monotonic() if t is None else t,
                what=what,
                position=round(self.position, 4),
                approach=self.occupied("approach"),
                safety=self.occupied("safety"),
                exit=self.occupied("exit"),
                photocell_broken=self.photocell_broken,
                estop=self.estop,
                detail=detail,
            )
        )

    def movements(self) -> list[LaneMoment]:
        return [m for m in self.audit if m.what in ("opening", "closing", "reverse", "stopped", "opened", "closed")]
