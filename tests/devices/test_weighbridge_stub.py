"""Indicator stubs on their own, with a FakeClock: streaming rate, settling, noise."""

from __future__ import annotations

import random

from agent.clock import FakeClock
from agent.codecs.toledo import ToledoDecoder
from agent.codecs.yaohua import YaohuaDecoder
from firmware_stubs.toledo import ToledoIndicator
from firmware_stubs.yaohua import YaohuaIndicator


def _run(stub, clock, seconds, step=0.01):
    out = b""
    for _ in range(round(seconds / step)):
        out += stub.poll()
        clock.advance(step)
    return out


def test_toledo_streams_at_its_rate_and_flags_motion_until_settled():
    clock = FakeClock()
    stub = ToledoIndicator(rate_hz=10, settle_s=1.0, clock=clock, rng=random.Random(5))
    stub.set_load(28450)
    frames = ToledoDecoder().feed(_run(stub, clock, 3.0))
    assert len(frames) == 30
    assert all(not f.stable for f in frames[:10])
    assert all(f.stable and f.value == 28450 for f in frames[10:])


def test_yaohua_settles_within_one_division_and_replays_from_its_seed():
    def run():
        clock = FakeClock()
        stub = YaohuaIndicator(rate_hz=10, settle_s=1.0, division=20, clock=clock, rng=random.Random(9))
        stub.set_load(28460)
        return [f.value for f in YaohuaDecoder().feed(_run(stub, clock, 3.0))]

    values = run()
    assert values == run()  # deterministic with seed and clock
    settled = values[10:]
    assert set(settled) <= {28460, 28480} and len(set(settled)) == 2  # flicker, one division
    assert max(values[:10]) - min(values[:10]) > 1000  # the truck rocked the scale
