"""Finding (bounds): junk written into a scanner's pty at pty speed took RSS to 708 MB (the
hand-over queue from the reader thread to the loop had no bound) and delayed a real scan by
120 s; noise with C1 controls and undecodable bytes became durable scans. Now the hand-over
holds at most `max_pending` bytes (the rest is dropped and counted), noise is garbled, and a
real scan sent after the flood arrives."""

from __future__ import annotations

import asyncio
import os
import random
import threading

from agent.contract.devices import Scan
from agent.devices.scanner import PlainScannerDriver
from tests.devices._serial_kit import RecordingSink, plain_scanner, supervised


class SlowSink(RecordingSink):
    """Each event takes a moment, as a commit does: the loop cannot keep up with a flood."""

    async def emit(self, device: str, event: object) -> None:
        await asyncio.sleep(0.0005)
        await super().emit(device, event)


def junk(rng: random.Random, size: int) -> bytes:
    """Line noise: printable runs, C1 controls, broken UTF-8, line ends."""
    parts = []
    while sum(map(len, parts)) < size:
        parts.append(rng.choice([
            bytes(rng.randrange(0x21, 0x7F) for _ in range(rng.randrange(1, 30))),
            "\u0085\u009b".encode(), b"\xc3\x28", b"\xe9\xe8", b"\r\n",
        ]))
    return b"".join(parts)


def test_a_junk_flood_is_bounded_counted_and_a_real_scan_still_arrives():
    master, slave = os.openpty()
    stop = threading.Event()

    def flood(blocks: int) -> None:
        block = junk(random.Random(5), 64 * 1024)
        for _ in range(blocks):
            if stop.is_set():
                return
            os.write(master, block)

    async def main():
        sink = SlowSink()
        driver = PlainScannerDriver(plain_scanner("scan-1", os.ttyname(slave), terminator="CRLF"), sink)
        async with supervised(driver):
            await sink.until(lambda: "online" in sink.statuses("scan-1"), "scanner online")
            writer = threading.Thread(target=flood, args=(4,))  # 256 kB at pty speed, 4x the bound
            writer.start()
            most = 0
            while writer.is_alive():
                most = max(most, driver.port.pending)
                await asyncio.sleep(0.01)
            writer.join()
            # the backlog is bounded, so the loop is soon through it; then a real scan is read
            await sink.until(lambda: driver.port.pending == 0, "the backlog handled", timeout=60)
            os.write(master, b"\r\nTCNU7200794\r\n")
            await sink.until(lambda: any(s.data == "TCNU7200794" for s in sink.scans("scan-1")),
                             "the real scan after the flood", timeout=60)
            return driver, most, driver.port.max_pending, sink

    try:
        driver, most, cap, sink = asyncio.run(main())
    finally:
        stop.set()
        os.close(master)
        os.close(slave)
    assert 0 < most <= cap
    assert driver.counters["dropped_bytes"] > 0
    assert driver.counters["garbled"] > 0
    # what noise still makes it through as "scans" is printable ASCII only: never C1 or broken UTF-8
    assert all(s.data.isprintable() and s.data.isascii() for s in sink.of("scan-1", Scan))
