"""Decides "stable" for indicators that send no motion flag (Yaohua XK3190-A9 and kin).

Rule: stable when the last `readings` readings all arrived within the last `window_s` seconds
and lie within one `division` of each other: max - min <= division. The span rule is used
rather than "within +-1 d of their mean" (or of the first reading) because it does not
depend on reading order and never lets two accepted readings differ by more than one
division (the mean rule would allow two).

A reading that breaks the band is a jump: older readings are dropped until the band holds
again (a real jump clears everything but the new reading; slow creep keeps the recent run).
Time comes from the caller (the driver's injected clock); time going backwards, or a reading
that is not a finite number, starts over.

Must never: raise on a reading, call a clock itself, or say stable on fewer than `readings`
readings.
"""

from __future__ import annotations

import math
from collections import deque

# Float weights like 20.01 - 20.00 land a hair above 0.01: allow that much slack.
_SLACK = 1e-9


class StabilityDetector:
    def __init__(self, readings: int, window_s: float, division: float):
        if readings < 1 or not window_s > 0 or not division > 0:
            raise ValueError(
                f"need readings >= 1, window_s > 0, division > 0; got "
                f"{readings}, {window_s}, {division}"
            )
        self.readings = readings
        self.window_s = window_s
        self.division = division
        self._run: deque[tuple[float, float]] = deque(maxlen=readings)  # (t, value)

    def reset(self) -> None:
        self._run.clear()

    def update(self, value: float, t: float) -> bool:
        run = self._run
        if not (math.isfinite(value) and math.isfinite(t)):
            run.clear()
            return False
        if run and t < run[-1][0]:
            run.clear()  # the clock went back: this reading starts a new run
        run.append((t, value))
        limit = self.division * (1 + _SLACK) + _SLACK
        while len(run) > 1 and _span(run) > limit:
            run.popleft()
        while run and run[0][0] < t - self.window_s:
            run.popleft()
        return len(run) == self.readings


def _span(run: deque[tuple[float, float]]) -> float:
    values = [v for _, v in run]
    return max(values) - min(values)
