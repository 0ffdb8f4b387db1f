"""The badge reader's converter through a real pty: badges in both formats arrive, a line
with bad parity is dropped and counted, noise is counted, the next swipe gets through."""

from __future__ import annotations

import asyncio

from _serial_kit import FAST, RecordingSink, supervised

from agent.codecs.wiegand import BadgeFrame
from agent.config.devices import BadgeReader
from agent.devices.badge_reader import BadgeReaderDriver
from firmware_stubs.badge_reader import BadgeReader as BadgeStub
from simulators.vserial import VirtualSerial


def test_badges_bad_parity_and_noise(tmp_path):
    stub = BadgeStub()

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="badge-1") as line:
            sink = RecordingSink()
            driver = BadgeReaderDriver(BadgeReader(kind="badge_reader", name="badge-1", port=line.path, **FAST), sink)
            async with supervised(driver):
                await sink.until(lambda: "online" in sink.statuses("badge-1"), "converter online")
                stub.swipe(12, 3456)
                stub.swipe(12, 3457, bad_parity=True)
                line.inject(b"\x00\xff")
                stub.swipe(0x1234, 0x5678, bits=34)
                await sink.until(lambda: len(sink.of("badge-1", BadgeFrame)) == 2, "two good badges")
        return driver, sink

    driver, sink = asyncio.run(main())
    assert sink.of("badge-1", BadgeFrame) == [BadgeFrame(26, 12, 3456), BadgeFrame(34, 0x1234, 0x5678)]
    assert driver.counters["bad_parity"] == 1 and driver.counters["garbled_bytes"] >= 2
