"""Barrier safety on the agent side: what the barrier and light outputs may be, given what the
lane's inputs say. The gate controller enforces the same interlock again (defence in depth).

Theory of operation. `BarrierGuard` is sans-I/O: it holds the lane's wish (barrier open or
closed), the last I/O snapshot and the fault flags, and `outputs(now)` answers the output
coils as they must be now. The runner writes them through a `BarrierPort` when they change.

Safety rules (each one is a test in tests/gate/test_barrier.py):
- never drive the barrier down while the safety loop is occupied, the photocell is broken or
  the exit loop is occupied; if that happens while it is coming down, drive it up (reverse)
  until the open limit; otherwise the barrier moves only when asked: a boom that is down,
  or stopped part-way (an e-stop, a controller loss, a dropped open), holds still while
  something is under it (never lifted into a vehicle's underside, never a passage without
  a decision);
- drive it down only once all three have been clear for `holdoff_s` without a break;
- green only while the lane wants the barrier open AND the open limit is made; red otherwise;
- unknown inputs (agent start), controller loss and e-stop: the safe state, i.e. no motion,
  red light, until a fresh snapshot shows the fault gone;
- an actuating command carries an expiry (monotonic); an expired one is refused, never done:
  an open wish whose coil was not written before its expiry is dropped, and e-stop or
  controller loss drop it too — after the fault clears, only a new command opens the barrier
  (the runner tells the lane through `take_abandoned()`);
- e-stop counts as "not clear" for the hold-off: after a release the close waits a full one.

Never: write to a device, sleep, or let any caller set outputs around `outputs()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from agent.contract.gate import LaneInputs
from agent.errors import CommandExpired

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outputs:
    barrier_open: bool = False
    barrier_close: bool = False
    red: bool = True
    green: bool = False


SAFE = Outputs()


class BarrierPort(Protocol):
    """The gate I/O driver's output side (agent.devices.gate_io offers this)."""

    async def set_outputs(self, *, barrier_open: bool, barrier_close: bool, red: bool, green: bool) -> None: ...


class BarrierGuard:
    def __init__(self, holdoff_s: float = 1.0):
        self.holdoff_s = holdoff_s
        self.want_open = False
        self.inputs: LaneInputs | None = None
        self.estop = False
        self.controller_lost = False
        self.clear_since: float | None = None
        self.reversals = 0
        self.reversing = False  # a close met a blocker: driving up until the open limit
        self.open_deadline: float | None = None  # the open wish's expiry, until its coil is written
        self.open_started = False
        self.abandoned: str | None = None  # why the last open wish was dropped; taken by the runner
        self._last = SAFE

    # -- what happened -------------------------------------------------------------------
    def observe(self, inputs: LaneInputs, now: float) -> None:
        """A fresh I/O snapshot: also proves the controller is back."""
        self.inputs = inputs
        self.controller_lost = False
        self.estop = bool(inputs.estop)
        if self.estop:
            self._abandon("e-stop")
        if self._blocked():
            self.clear_since = None
        elif self.clear_since is None:
            self.clear_since = now

    def lost(self) -> None:
        """The I/O module stopped answering: we know nothing about the lane any more."""
        self.controller_lost = True
        self.inputs = None
        self.clear_since = None
        self._abandon("controller lost")

    def request_open(self, expires_at: float, now: float) -> None:
        if now >= expires_at:
            raise CommandExpired(f"open command expired {now - expires_at:.3f} s ago")
        self.want_open = True
        self.open_deadline, self.open_started, self.abandoned = expires_at, False, None

    def open_written(self) -> None:
        """The open coil reached the module: the command is being carried out, so its expiry no
        longer applies (a barrier takes seconds to travel)."""
        if self.want_open:
            self.open_started = True

    def request_close(self) -> None:
        self.want_open = False
        self.open_deadline, self.open_started = None, False

    def take_abandoned(self) -> str | None:
        why, self.abandoned = self.abandoned, None
        return why

    def _abandon(self, why: str) -> None:
        if self.want_open:
            self.want_open = False
            self.open_deadline, self.open_started = None, False
            self.abandoned = why

    @property
    def safe_to_actuate(self) -> bool:
        return self.inputs is not None and not self.estop and not self.controller_lost

    # -- what the coils must be ------------------------------------------------------------
    def outputs(self, now: float) -> Outputs:
        if self.want_open and self.inputs is not None and self.inputs.open_limit:
            self.open_started = True  # already up: the command is carried out
        if self.want_open and not self.open_started and self.open_deadline is not None and now >= self.open_deadline:
            self._abandon("the open was not carried out before its expiry")
        out = self._decide(now)
        if out.barrier_open and self._last.barrier_close and not self.want_open:
            self.reversals += 1
        self._last = out
        return out

    def _blocked(self) -> bool:
        i = self.inputs
        return i is None or bool(i.safety or i.photocell_broken or i.exit or i.estop)

    def _decide(self, now: float) -> Outputs:
        i = self.inputs
        if i is None or self.estop or self.controller_lost:
            self.reversing = False
            return SAFE
        if self.want_open:
            self.reversing = False
            green = bool(i.open_limit)
            return Outputs(barrier_open=not i.open_limit, barrier_close=False, red=not green, green=green)
        if i.closed_limit:
            self.reversing = False
            return SAFE  # down and staying down, whatever is on the loops
        if self._blocked():
            # reverse only a boom that was coming down; any other boom holds still
            self.reversing = (self._last.barrier_close or self.reversing) and not i.open_limit
            return Outputs(barrier_open=self.reversing, barrier_close=False)
        self.reversing = False
        held = self.clear_since is not None and now - self.clear_since >= self.holdoff_s
        if not held:
            return Outputs(barrier_open=False, barrier_close=False)
        return Outputs(barrier_open=False, barrier_close=True)

