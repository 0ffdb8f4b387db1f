"""Injected time. Everything that waits or stamps takes a `Clock` so scenarios replay.

`SystemClock` is the real one; `FakeClock` is advanced by hand in tests and simulations.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to. Starts at a fixed, readable instant."""

    def __init__(self, start: datetime | None = None):
        self._wall = start or datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC)
        self._mono = 1000.0

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        self._mono += seconds
        self._wall += timedelta(seconds=seconds)


SYSTEM_CLOCK = SystemClock()
