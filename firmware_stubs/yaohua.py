"""Yaohua XK3190-A9 indicator stub: continuous 12-byte frames at a set rate, no motion flag.

The host cannot see motion: it must judge stability from the readings, so when settled the
stub shows the load with noise of up to `noise_divisions` (default 1) divisions.
Scripted: `set_load(28460)`, `stop_streaming()`.
"""

from __future__ import annotations

from typing import Any

from agent.codecs.yaohua import encode_yaohua
from firmware_stubs.indicators import Indicator


class YaohuaIndicator(Indicator):
    def __init__(self, *, dp: int = 0, noise_divisions: int = 1, **kwargs: Any):
        super().__init__(noise_divisions=noise_divisions, **kwargs)
        self.dp = dp

    def frame(self, value: float, motion: bool) -> bytes:
        return encode_yaohua(value, dp=self.dp)
