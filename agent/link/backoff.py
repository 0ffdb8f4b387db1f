"""Reconnect delays: exponential backoff with full jitter, capped, never giving up.

Full jitter (a uniform draw in [0, min(cap, base * 2**attempt)]) is what keeps a fleet of
nodes that lost the broker together from reconnecting together. The draw comes from an
injected `random.Random`, so a seeded run replays the same delays.

This module must never sleep or touch the network: it only computes delays.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, base_s: float, cap_s: float, rng: random.Random):
        if base_s <= 0 or cap_s <= 0:
            raise ValueError("backoff base and cap must be positive")
        self.base_s = base_s
        self.cap_s = max(cap_s, base_s)
        self._rng = rng
        self.attempt = 0

    def ceiling(self) -> float:
        """The largest delay the next attempt may draw."""
        # min() before the power would overflow for a node that has been away for days
        return min(self.cap_s, self.base_s * 2 ** min(self.attempt, 62))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
