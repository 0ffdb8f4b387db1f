"""What every firmware stub shares: a sans-I/O device core driven by whoever owns the wire.

A stub never touches a port. Its owner (simulators/vserial.py, or a test directly) calls:
  - `receive(data)` with bytes the host sent,
  - `poll()` for the bytes the device puts on the wire now (streaming, retransmits, replies),
and scripted methods (`scan(...)`, `set_load(...)`) may be called from any thread: all state
is behind one lock. Time comes from the injected clock and randomness from a seeded
`random.Random`, so with a `FakeClock` a test can replay a device byte for byte.
"""

from __future__ import annotations

import random
import threading

from agent.clock import SYSTEM_CLOCK, Clock


class Firmware:
    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.lock = threading.RLock()
        self._out = bytearray()

    # -- the wire side (called by the owner of the port) -----------------------------------
    def receive(self, data: bytes) -> None:
        with self.lock:
            self.on_receive(data)

    def poll(self) -> bytes:
        with self.lock:
            self.on_tick(self.clock.monotonic())
            out = bytes(self._out)
            self._out.clear()
            return out

    # -- for subclasses ----------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue bytes for the wire (call with the lock held)."""
        self._out += data

    def on_receive(self, data: bytes) -> None:
        """Bytes from the host. Default: a device that ignores its host."""

    def on_tick(self, now: float) -> None:
        """Time passes: stream, retransmit, settle."""
