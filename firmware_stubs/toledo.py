"""Mettler Toledo indicator stub: continuous output (18-byte or short frames) at a set rate.

The indicator's own motion detection sets the MOTION bit while the load settles; once stable
it shows the load (plus configured noise). Scripted: `set_load(28450)`, `stop_streaming()`.
"""

from __future__ import annotations

from typing import Any

from agent.codecs.toledo import encode_toledo
from firmware_stubs.indicators import Indicator


class ToledoIndicator(Indicator):
    def __init__(self, *, unit: str = "kg", short: bool = False, dp: int = 0, net: bool = False,
                 tare: float = 0, **kwargs: Any):
        kwargs.setdefault("division", 10.0)
        super().__init__(**kwargs)
        self.unit, self.short, self.dp, self.net, self.tare = unit, short, dp, net, tare

    def frame(self, value: float, motion: bool) -> bytes:
        return encode_toledo(value, unit=self.unit, net=self.net, motion=motion, dp=self.dp,
                             tare=0 if self.short else self.tare, short=self.short)
