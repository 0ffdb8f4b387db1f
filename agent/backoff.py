"""Reconnect delays: exponential backoff with jitter, capped, never giving up. The one
backoff of the node: the link's broker reconnects, the device supervisor's port reopens and
the fleet simulator's nodes all draw their delays here.

Attempt n may wait up to d = min(cap, base * 2**n); the jitter says how much of d is drawn:
- full (the broker link): U(0, d). Spreads a fleet of nodes that lost the broker together
  over the whole window, so they do not reconnect together.
- equal (device ports): d/2 + U(0, d/2). Lanes unplugged by the same power cut still spread
  out, and a dead port is never hammered with a zero delay as full jitter would allow.
The draw comes from an injected `random.Random`, so a seeded run replays the same delays.

This module must never sleep or touch the network: it only computes delays.
"""

from __future__ import annotations

import random
from enum import StrEnum


class Jitter(StrEnum):
    FULL = "full"  # U(0, d)
    EQUAL = "equal"  # d/2 + U(0, d/2)


class Backoff:
    def __init__(self, base_s: float, cap_s: float, rng: random.Random, jitter: Jitter = Jitter.FULL):
        if base_s <= 0 or cap_s <= 0:
            raise ValueError("backoff base and cap must be positive")
        self.base_s = base_s
        self.cap_s = max(cap_s, base_s)
        self.jitter = jitter
        self._rng = rng
        self.attempt = 0

    def ceiling(self) -> float:
        """The largest delay the next attempt may draw."""
        # min() before the power would overflow for a node that has been away for days
        return min(self.cap_s, self.base_s * 2 ** min(self.attempt, 62))

    def next_delay(self) -> float:
        ceiling = self.ceiling()
        delay = self._rng.uniform(ceiling / 2 if self.jitter is Jitter.EQUAL else 0.0, ceiling)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
