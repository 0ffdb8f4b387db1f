"""Weighbridge indicator physics shared by the Toledo and Yaohua stubs.

A truck driving on is modelled as a damped oscillation from the previous reading to the new
load over `settle_s` seconds (the indicator reports motion), then the load plus noise of up to
`noise_divisions` divisions, always rounded to the division as an indicator displays it.
Frames stream at `rate_hz`. Everything random comes from the stub's seeded rng.
"""

from __future__ import annotations

import math
import random

from agent.clock import SYSTEM_CLOCK, Clock
from firmware_stubs.base import Firmware


class Indicator(Firmware):
    def __init__(self, *, rate_hz: float = 10.0, division: float = 20.0, noise_divisions: int = 0,
                 settle_s: float = 1.5, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        super().__init__(clock=clock, rng=rng)
        if rate_hz <= 0:
            raise ValueError("rate_hz must be > 0")
        self.rate_hz = rate_hz
        self.division = division
        self.noise_divisions = noise_divisions
        self.settle_s = settle_s
        self.frames_sent = 0
        self._from = 0.0
        self._target = 0.0
        self._t0 = -math.inf
        self._settle_until = -math.inf
        self._next_at: float | None = None
        self.streaming = True

    # -- scripted API ------------------------------------------------------------------------
    def set_load(self, target: float, settle_s: float | None = None) -> None:
        """A truck drives on (or off): the reading swings, then settles at `target`."""
        with self.lock:
            now = self.clock.monotonic()
            self._from = self.reading(now)[0]
            self._target = float(target)
            self._t0 = now
            self._settle_until = now + (self.settle_s if settle_s is None else settle_s)

    def stop_streaming(self) -> None:
        with self.lock:
            self.streaming = False

    def reading(self, now: float) -> tuple[float, bool]:
        """(displayed value, in motion) at `now`."""
        if now < self._settle_until:
            span = max(self._settle_until - self._t0, 1e-9)
            dt = (now - self._t0) / span
            swing = (self._from - self._target) * math.exp(-4 * dt) * math.cos(3 * math.pi * dt)
            value = self._target + swing + self.rng.uniform(-3, 3) * self.division
            return self._round(value), True
        # noise spans `noise_divisions` divisions above the load, as a display flickering
        # between two adjacent divisions does
        noise = self.rng.randint(0, self.noise_divisions) if self.noise_divisions else 0
        return self._round(self._target + noise * self.division), False

    def _round(self, value: float) -> float:
        return round(value / self.division) * self.division

    # -- wire ----------------------------------------------------------------------------------
    def on_tick(self, now: float) -> None:
        if not self.streaming:
            return
        period = 1.0 / self.rate_hz
        if self._next_at is None or now - self._next_at > 10 * period:
            self._next_at = now  # first frame, or we were not polled for a while: no burst
        if now >= self._next_at:
            value, motion = self.reading(now)
            self.send(self.frame(value, motion))
            self.frames_sent += 1
            self._next_at += period

    def frame(self, value: float, motion: bool) -> bytes:
        raise NotImplementedError
