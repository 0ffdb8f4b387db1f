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


class StalledSink(RecordingSink):
    """While `held` is clear, a scan's commit does not finish: the driver's loop is stuck behind
    it, as behind a slow disk, and bytes pile up between the reader thread and the loop."""

    def __init__(self) -> None:
        super().__init__()
        self.held = asyncio.Event()
        self.held.set()

    async def emit(self, device: str, event: object) -> None:
        if isinstance(event, Scan):
            await self.held.wait()
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


BLOCK = junk(random.Random(5), 16 * 1024)


def test_a_junk_flood_is_bounded_counted_and_a_real_scan_still_arrives():
    master, slave = os.openpty()
    stop = threading.Event()

    def flood(blocks: int) -> None:
        for _ in range(blocks):
            if stop.is_set():
                return
            os.write(master, BLOCK)

    async def main():
        sink = StalledSink()
        driver = PlainScannerDriver(plain_scanner("scan-1", os.ttyname(slave), terminator="CRLF"), sink)
        async with supervised(driver):
            await sink.until(lambda: "online" in sink.statuses("scan-1"), "scanner online")
            port = driver.port
            port.max_pending = 4 * 1024  # a small bound keeps the test quick; the rule is the same
            sink.held.clear()
            writer = threading.Thread(target=flood, args=(2,))  # 32 kB at pty speed, 8x the bound
            writer.start()
            await asyncio.to_thread(writer.join)
            # every byte written is handled, waiting (never more than the bound) or dropped
            await sink.until(lambda: driver.counters["bytes"] + port.pending + port.dropped == 2 * len(BLOCK),
                             "every byte accounted for", timeout=60)
            waiting, dropped = port.pending, port.dropped
            sink.held.set()
            await sink.until(lambda: port.pending == 0, "the backlog handled", timeout=60)
            os.write(master, b"\r\nTCNU7200794\r\n")
            await sink.until(lambda: any(s.data == "TCNU7200794" for s in sink.scans("scan-1")),
                             "the real scan after the flood", timeout=60)
            return driver, waiting, dropped, port.max_pending, sink

    try:
        driver, waiting, dropped, cap, sink = asyncio.run(main())
    finally:
        stop.set()
        os.close(master)
        os.close(slave)
    assert 0 < waiting <= cap and dropped > 0
    assert driver.counters["dropped_bytes"] == dropped
    assert driver.counters["garbled"] > 0
    # what noise still makes it through as "scans" is printable ASCII only: never C1 or broken UTF-8
    assert all(s.data.isprintable() and s.data.isascii() for s in sink.of("scan-1", Scan))
