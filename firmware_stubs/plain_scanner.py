"""Barcode scanner stub in plain serial ("data as is") mode: text + terminator, nothing awaited.

Scripted API: `scan("CSQU3054383", aim="]C0")`; `scan(..., split_at=n, pause_s=t)` sends the
first n bytes, then the rest `pause_s` later (to exercise the host's idle timeout and framing
across reads); `terminator=""` for a scanner configured with no suffix (the host's idle
timeout must end the frame).
"""

from __future__ import annotations

import random
from collections import deque

from agent.clock import SYSTEM_CLOCK, Clock
from agent.codecs.scanner_plain import encode_plain
from firmware_stubs.base import Firmware


class PlainScanner(Firmware):
    def __init__(self, *, terminator: str = "CRLF", prefix: str = "", suffix: str = "",
                 clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        super().__init__(clock=clock, rng=rng)
        self.terminator = terminator
        self.prefix, self.suffix = prefix, suffix
        self._later: deque[tuple[float, bytes]] = deque()
        self.sent: list[str] = []

    def frame(self, text: str, aim: str | None = None) -> bytes:
        if self.terminator:
            return encode_plain(text, self.terminator, aim, self.prefix, self.suffix)
        return encode_plain(text, "CR", aim, self.prefix, self.suffix)[:-1]

    def scan(self, text: str, aim: str | None = None, split_at: int | None = None, pause_s: float = 0.0) -> None:
        wire = self.frame(text, aim)
        with self.lock:
            self.sent.append(text)
            if split_at is None:
                self.send(wire)
            else:
                self.send(wire[:split_at])
                self._later.append((self.clock.monotonic() + pause_s, wire[split_at:]))

    def on_tick(self, now: float) -> None:
        while self._later and self._later[0][0] <= now:
            self.send(self._later.popleft()[1])
