"""Weighbridge indicator drivers: Mettler Toledo continuous output and Yaohua XK3190-A9.

Indicators stream 10-20 frames a second whether anything changes or not; the lane needs
"the truck weighs 28,450 kg, stable", not a firehose. Emit rule (`WeightGate.should_emit`):

  a reading is emitted when
    1. it is the first reading since the port was (re)opened, or
    2. its `stable` differs from the last emitted one (settled, or motion began), or
    3. mode, unit or out-of-range differ from the last emitted one, or
    4. it is stable and differs from the last emitted value by more than the deadband: the
       device's `deadband_kg` (default 20 kg) in the reading's unit, and for Yaohua at least
       one division (its display flickers between adjacent divisions while the detector
       still calls it stable). An idle scale whose indicator shows 0 and 10 kg in turn
       (noise of one 10 kg division) so makes no events at all.
  While in motion, nothing more is emitted until the reading settles: a swinging weight
  means nothing to a gate decision, and the motion event already said "moving".
  docs/platform-integration.md ("Weights") states this rule for the platform.

Yaohua frames carry no motion flag: `stable` comes from a `StabilityDetector` (N readings
within +-1 division over T seconds, from the device config) fed with the injected clock.

Counters: frames, garbled, weights (emitted), unit_refused (Toledo frames in a unit the
contract does not carry: counted, logged once, never published). Garbled bytes are counted
and logged at debug.
This module must never decide anything about a gate transaction, and never emit a reading
the codec did not frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from agent.codecs.base import Garbled, WeightFrame
from agent.codecs.stability import StabilityDetector
from agent.codecs.toledo import ToledoDecoder, UnitRefused
from agent.codecs.yaohua import YaohuaDecoder
from agent.config.devices import Indicator, ToledoIndicator, YaohuaIndicator
from agent.contract.devices import KG_PER_UNIT, Weight, WeightUnit
from agent.devices.serial_port import SerialDriver

log = logging.getLogger(__name__)


@dataclass
class WeightGate:
    """Decides which readings are worth an event (the rule in the module docstring)."""

    change: float = 0.0  # in the reading's unit (Yaohua: one division)
    deadband_kg: float = 0.0
    last: Weight | None = None

    def should_emit(self, w: Weight) -> bool:
        last = self.last
        if last is None or w.stable != last.stable:
            return True
        if (w.mode, w.unit, w.out_of_range) != (last.mode, last.unit, last.out_of_range):
            return True
        band = max(self.change, self.deadband_kg / KG_PER_UNIT[w.unit])
        if w.stable and abs(w.value - last.value) > band + 1e-9:
            return True
        return False


IndicatorT = TypeVar("IndicatorT", bound=Indicator)


class _IndicatorDriver(SerialDriver[IndicatorT]):
    change: float = 0.0

    def reset(self) -> None:
        self.decoder = self.make_decoder()
        self.gate = WeightGate(change=self.change, deadband_kg=self.config.deadband_kg)

    def make_decoder(self) -> Any:
        raise NotImplementedError

    def stable(self, frame: WeightFrame) -> bool:
        return bool(frame.stable)

    def to_weight(self, frame: WeightFrame) -> Weight:
        # the codecs speak plain strings; the model checks them against the contract's units and modes
        return Weight(device=self.name, value=frame.value, unit=cast(WeightUnit, frame.unit),
                      mode=cast(Literal["gross", "net"], frame.mode),
                      stable=self.stable(frame), tare=frame.tare, out_of_range=frame.out_of_range)

    async def on_bytes(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if isinstance(event, Garbled):
                self.count("garbled")
                self.count("garbled_bytes", len(event.data))
                log.debug("device %s: garbled %s: %r", self.name, event.reason, event.data[:64])
                continue
            if isinstance(event, UnitRefused):
                self.count("unit_refused")
                if self.counters["unit_refused"] == 1:
                    log.error("device %s: %s; such frames are counted (unit_refused) and not published",
                              self.name, event.reason)
                continue
            self.count("frames")
            weight = self.to_weight(event)
            if self.gate.should_emit(weight):
                self.gate.last = weight
                self.count("weights")
                await self.emit(weight)


class ToledoDriver(_IndicatorDriver[ToledoIndicator]):
    def make_decoder(self) -> Any:
        return ToledoDecoder(short=self.config.short_format)


class YaohuaDriver(_IndicatorDriver[YaohuaIndicator]):
    def reset(self) -> None:
        self.change = self.config.division
        self.detector = StabilityDetector(self.config.stable_readings, self.config.stable_window_s,
                                          self.config.division)
        super().reset()

    def make_decoder(self) -> Any:
        return YaohuaDecoder(unit=self.config.unit)

    def stable(self, frame: WeightFrame) -> bool:
        return self.detector.update(frame.value, self.clock.monotonic())
