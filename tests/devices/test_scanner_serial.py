"""Plain-mode barcode scanner: firmware stub -> real pty -> driver -> Scan events."""

from __future__ import annotations

import asyncio

from _serial_kit import RecordingSink, plain_scanner, supervised

from agent.devices.scanner import PlainScannerDriver
from firmware_stubs.plain_scanner import PlainScanner
from simulators.vserial import VirtualSerial


def test_plain_scan_with_aim_identifier_arrives_as_a_scan_event(tmp_path):
    stub = PlainScanner(terminator="CRLF")

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scan-1") as line:
            driver = PlainScannerDriver(plain_scanner("scan-1", line.path, terminator="CRLF"), sink)
            async with supervised(driver):
                await sink.until(lambda: "online" in sink.statuses("scan-1"), "scanner online")
                stub.scan("CSQU3054383", aim="]C0")
                stub.scan("\x1d0012345678901234567", aim="]C1")
                scans = await sink.until(lambda: len(sink.scans("scan-1")) >= 2 and sink.scans("scan-1"), "two scans")
        return scans, driver

    scans, driver = asyncio.run(main())
    assert [(s.data, s.symbology, s.barcode_type) for s in scans] == [
        ("CSQU3054383", "]C0", "code128"),
        ("\x1d0012345678901234567", "]C1", "gs1_128"),
    ]
    assert driver.counters["scans"] == 2 and driver.counters["garbled"] == 0


def test_scanner_without_terminator_is_framed_by_the_idle_timeout(tmp_path):
    """A scanner set to send no suffix: only the quiet after the data ends the scan, and a scan
    split across two reads (a pause shorter than the idle timeout) stays whole."""
    stub = PlainScanner(terminator="")

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scan-2") as line:
            config = plain_scanner("scan-2", line.path, terminator="CR", idle_timeout_s=0.5)
            driver = PlainScannerDriver(config, sink)
            async with supervised(driver):
                await sink.until(lambda: "online" in sink.statuses("scan-2"), "scanner online")
                stub.scan("TCNU7200794", split_at=4, pause_s=0.05)
                await sink.until(lambda: sink.scans("scan-2"), "scan flushed by idle timeout")
                stub.scan("GYOU4047990")
                await sink.until(lambda: len(sink.scans("scan-2")) >= 2, "second scan")
        return [s.data for s in sink.scans("scan-2")]

    assert asyncio.run(main()) == ["TCNU7200794", "GYOU4047990"]


def test_garbage_on_the_line_is_counted_and_the_next_scan_still_decodes(tmp_path):
    stub = PlainScanner(terminator="CRLF")

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scan-3") as line:
            driver = PlainScannerDriver(plain_scanner("scan-3", line.path, terminator="CRLF"), sink)
            async with supervised(driver):
                await sink.until(lambda: "online" in sink.statuses("scan-3"), "scanner online")
                line.inject(b"\x00\xff\x00\x07\x01junk\r\n")
                stub.scan("176-12345675")
                await sink.until(lambda: sink.scans("scan-3"), "scan after garbage")
        return driver, [s.data for s in sink.scans("scan-3")]

    driver, scans = asyncio.run(main())
    assert scans == ["176-12345675"]
    assert driver.counters["garbled"] >= 1
    assert driver.state == "offline"  # stopped cleanly, never crashed into "error"
    assert driver.counters["errors"] == 0
