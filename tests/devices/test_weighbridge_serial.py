"""Weighbridge indicators through real ptys: a truck drives on, the reading swings, settles,
and the driver emits the few readings that matter (not every frame)."""

from __future__ import annotations

import asyncio

from _serial_kit import RecordingSink, supervised, toledo, yaohua

from agent.contract.devices import Weight
from agent.devices.weighbridge import ToledoDriver, WeightGate, YaohuaDriver
from firmware_stubs.toledo import ToledoIndicator
from firmware_stubs.yaohua import YaohuaIndicator
from simulators.vserial import VirtualSerial


def _settled_at(sink, name, value, tolerance=0.0):
    def check():
        ws = sink.weights(name)
        return ws and ws[-1].stable and abs(ws[-1].value - value) <= tolerance and ws
    return check


def test_toledo_truck_drives_on_motion_then_stable_weight(tmp_path):
    stub = ToledoIndicator(rate_hz=20, settle_s=0.6, unit="kg")

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scale-1") as line:
            driver = ToledoDriver(toledo("scale-1", line.path), sink)
            async with supervised(driver):
                await sink.until(lambda: sink.weights("scale-1"), "empty scale reading")
                stub.set_load(28450)
                await sink.until(_settled_at(sink, "scale-1", 28450), "stable 28450 kg")
                await sink.until(lambda: driver.counters["frames"] >= 30, "a stream of frames")
        return driver, sink.weights("scale-1")

    driver, weights = asyncio.run(main())
    assert weights[0] == Weight(device="scale-1", value=0, unit="kg", mode="gross", stable=True, tare=0)
    assert any(not w.stable for w in weights), "the swing while the truck drove on was never reported"
    assert weights[-1].stable and weights[-1].value == 28450
    # motion is reported once, not frame by frame; the stable stream adds nothing
    assert len(weights) == 3, weights
    assert driver.counters["frames"] > len(weights) * 5
    assert driver.counters["garbled"] == 0


def test_yaohua_stability_comes_from_the_detector(tmp_path):
    """Yaohua frames have no motion flag: the driver calls a reading stable only after
    5 readings within one division over 1 s; display flicker of one division emits nothing."""
    stub = YaohuaIndicator(rate_hz=20, settle_s=0.6, division=20, noise_divisions=1)

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scale-2") as line:
            config = yaohua("scale-2", line.path, stable_readings=5, stable_window_s=1.0, division=20)
            driver = YaohuaDriver(config, sink)
            async with supervised(driver):
                await sink.until(lambda: any(w.stable for w in sink.weights("scale-2")), "empty scale stable")
                stub.set_load(28460)
                await sink.until(_settled_at(sink, "scale-2", 28470, tolerance=10), "stable near 28460")
                frames_at_stable = driver.counters["frames"]
                await sink.until(lambda: driver.counters["frames"] >= frames_at_stable + 30, "flicker frames")
        return driver, sink.weights("scale-2")

    driver, weights = asyncio.run(main())
    assert weights[0].stable is False, "a first reading cannot be stable: the detector needs 5"
    stable = [w for w in weights if w.stable]
    assert stable[-1].value in (28460, 28480)
    # after settling the display flickers by one division for 30+ frames: no new events
    assert weights[-1] is stable[-1]
    assert sum(1 for w in weights if w.stable and w.value >= 28000) == 1
    assert all(w.unit == "kg" and w.mode == "gross" for w in weights)


def test_weight_gate_rule():
    gate = WeightGate(change=20)
    w = lambda v, s: Weight(device="s", value=v, unit="kg", mode="gross", stable=s)  # noqa: E731
    decisions = []
    for reading in [w(0, True), w(0, True), w(500, False), w(9000, False), w(28460, True),
                    w(28480, True), w(28460, True), w(28520, True), w(28520, True)]:
        emit = gate.should_emit(reading)
        decisions.append(emit)
        if emit:
            gate.last = reading
    assert decisions == [True, False, True, False, True, False, False, True, False]


def test_garbage_in_the_weight_stream_is_counted_and_frames_after_it_decode(tmp_path):
    stub = ToledoIndicator(rate_hz=20, settle_s=0.2, unit="kg")

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scale-3") as line:
            driver = ToledoDriver(toledo("scale-3", line.path), sink)
            async with supervised(driver):
                await sink.until(lambda: sink.weights("scale-3"), "first reading")
                line.inject(b"\x02\x02garbage\x0d\x02" + b"\xff" * 40)
                await sink.until(lambda: driver.counters["garbled"] >= 1, "garbage counted")
                stub.set_load(15020)
                await sink.until(_settled_at(sink, "scale-3", 15020), "stable after garbage")
        return driver

    driver = asyncio.run(main())
    assert driver.counters["garbled_bytes"] >= 40
    assert driver.counters["errors"] == 0


def test_an_idle_scale_flickering_by_one_division_makes_no_events_within_the_deadband(tmp_path):
    """The simulated lane's idle scale shows 0 and 10 kg in turn: with the default 20 kg
    deadband that is one event (the first reading), not one per flicker."""
    async def run(deadband_kg: float) -> tuple[int, list[Weight]]:
        stub = ToledoIndicator(rate_hz=25, division=10, noise_divisions=1, unit="kg")
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name=f"scale-{deadband_kg:g}") as line:
            driver = ToledoDriver(toledo("scale-1", line.path, deadband_kg=deadband_kg), sink)
            async with supervised(driver):
                await sink.until(lambda: driver.counters["frames"] >= 40, "a stream of idle frames")
        return driver.counters["frames"], sink.weights("scale-1")

    frames, weights = asyncio.run(run(20.0))
    assert len(weights) == 1 and weights[0].value in (0, 10), weights
    _, noisy = asyncio.run(run(0.0))
    assert len(noisy) > 5, "with no deadband the flicker should be events (else this test proves nothing)"


def test_a_toledo_in_tons_is_published_in_tons_and_a_unit_outside_the_contract_is_refused(tmp_path):
    stub = ToledoIndicator(rate_hz=20, settle_s=0.2, unit="t", dp=2, division=0.01)

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scale-t") as line:
            driver = ToledoDriver(toledo("scale-t", line.path), sink)
            async with supervised(driver):
                stub.set_load(28.45)
                await sink.until(_settled_at(sink, "scale-t", 28.45), "stable 28.45 t")
                # a frame in long tons (SWC unit code 6), by hand: refused and counted, never published
                line.inject(toledo_frame(b"\x02\x2c\x30\x26002845000000\r"))
                await sink.until(lambda: driver.counters["unit_refused"] >= 1, "the long-ton frame counted")
        return driver, sink.weights("scale-t")

    driver, weights = asyncio.run(main())
    assert weights[-1] == Weight(device="scale-t", value=28.45, unit="t", mode="gross", stable=True, tare=0)
    assert all(w.unit == "t" for w in weights)
    assert driver.counters["unit_refused"] == 1 and driver.counters["garbled"] == 0


def toledo_frame(body: bytes) -> bytes:
    return body + bytes([(-sum(b & 0x7F for b in body)) & 0x7F])
