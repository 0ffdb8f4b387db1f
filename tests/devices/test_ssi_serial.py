"""SSI scanner through a real pty: a scan is ACKed only after it is committed to SQLite, and a
scan the agent failed to store is retransmitted by the scanner and stored exactly once."""

from __future__ import annotations

import asyncio
import sqlite3

from _serial_kit import RecordingSink, SqliteScanSink, ssi_scanner, stored_scans, supervised

from agent.contract.devices import Scan
from agent.devices.ssi_scanner import SsiScannerDriver
from firmware_stubs.ssi_scanner import SsiScanner
from simulators.vserial import VirtualSerial


def _online(sink, name):
    return lambda: "online" in sink.statuses(name)


def test_decode_arrives_as_scan_and_ack_follows_the_commit(tmp_path):
    """At the moment the scanner sees CMD_ACK, another connection already finds the scan in
    the SQLite file, and the commit is logged before the ACK for every scan."""
    db = tmp_path / "scans.db"
    stub = SsiScanner(ack_timeout_s=5.0)
    seen_at_ack: dict[str, list[str]] = {}

    def on_ack(text: str) -> None:
        seen_at_ack[text] = stored_scans(db)
        with sink.order_lock:
            sink.order.append(f"ack:{text}")

    stub.on_ack.append(on_ack)
    sink = SqliteScanSink(db)

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="ssi-1") as line:
            driver = SsiScannerDriver(ssi_scanner("ssi-1", line.path), sink)
            async with supervised(driver):
                await sink.until(_online(sink, "ssi-1"), "scanner online")
                stub.scan("1234", barcode_type="code128")
                stub.scan("]d2 not aim here", barcode_type="gs1_datamatrix")
                await sink.until(lambda: len(stub.acked) == 2, "both decodes acked")
        return driver

    driver = asyncio.run(main())
    scans = sink.scans("ssi-1")
    assert [(s.data, s.barcode_type) for s in scans] == [("1234", "code128"), ("]d2 not aim here", "gs1_datamatrix")]
    assert seen_at_ack["1234"] == ["1234"]
    assert seen_at_ack["]d2 not aim here"] == ["1234", "]d2 not aim here"]
    assert sink.order == ["commit:1234", "ack:1234", "commit:]d2 not aim here", "ack:]d2 not aim here"]
    assert stub.transmissions == [("1234", False), ("]d2 not aim here", False)]
    assert driver.counters["scans"] == 2 and driver.counters["acks_sent"] == 2


def test_sink_failure_before_commit_means_no_ack_then_retransmit_is_stored_once(tmp_path):
    db = tmp_path / "scans.db"
    stub = SsiScanner(ack_timeout_s=1.0)
    sink = SqliteScanSink(db)
    sink.fail_next = 1

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="ssi-2") as line:
            driver = SsiScannerDriver(ssi_scanner("ssi-2", line.path), sink)
            async with supervised(driver):
                await sink.until(_online(sink, "ssi-2"), "scanner online")
                stub.scan("CSQU3054383")
                await sink.until(lambda: stub.acked, "retransmitted decode acked")
        return driver

    driver = asyncio.run(main())
    assert stub.transmissions[:2] == [("CSQU3054383", False), ("CSQU3054383", True)]
    assert sink.stored() == ["CSQU3054383"]
    assert driver.counters["emit_failed"] == 1 and driver.counters["scans"] == 1
    assert stub.gave_up == []


def test_commit_slower_than_the_scanner_timeout_is_stored_once_and_duplicates_acked(tmp_path):
    """The commit takes longer than the scanner waits: it retransmits twice meanwhile. The
    queued retransmits match the committed decode: ACKed again, never stored again."""
    db = tmp_path / "scans.db"
    stub = SsiScanner(ack_timeout_s=0.3)
    sink = SqliteScanSink(db)

    async def main():
        sink.gate = asyncio.Event()
        with VirtualSerial(stub, directory=tmp_path, name="ssi-3") as line:
            driver = SsiScannerDriver(ssi_scanner("ssi-3", line.path), sink)
            async with supervised(driver):
                await sink.until(_online(sink, "ssi-3"), "scanner online")
                stub.scan("TOLU4734787")
                await sink.until(lambda: len(stub.transmissions) == 3, "two retransmits while the commit hangs")
                sink.gate.set()
                await sink.until(lambda: driver.counters["duplicates"] == 2, "both retransmits answered")
        return driver

    driver = asyncio.run(main())
    assert sink.stored() == ["TOLU4734787"]
    assert [s.data for s in sink.scans("ssi-3")] == ["TOLU4734787"]
    assert driver.counters["acks_sent"] == 3  # the decode and both retransmits answered


def test_agent_killed_between_read_and_commit_scan_arrives_once_from_the_retransmit(tmp_path):
    """The first agent reads the decode and dies (is stopped) before committing. A new agent
    on the same port gets the scanner's retransmit and stores the scan exactly once."""
    db = tmp_path / "scans.db"
    stub = SsiScanner(ack_timeout_s=1.0)

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="ssi-4") as line:
            first = SqliteScanSink(db)
            first.gate = asyncio.Event()  # never opens: this agent never commits
            async with supervised(SsiScannerDriver(ssi_scanner("ssi-4", line.path), first)):
                await first.until(_online(first, "ssi-4"), "first agent online")
                stub.scan("GYOU4047990")
                await first.until(lambda: first.entered == 1, "first agent read the decode")
            # first agent is gone; nothing committed, nothing acked
            assert stored_scans(db) == [] and stub.acked == []
            second = SqliteScanSink(db)
            driver = SsiScannerDriver(ssi_scanner("ssi-4", line.path), second)
            async with supervised(driver):
                await second.until(lambda: stub.acked, "retransmit stored and acked by the new agent")
            return driver

    driver = asyncio.run(main())
    assert stored_scans(db) == ["GYOU4047990"]
    assert driver.counters["scans"] == 1
    assert ("GYOU4047990", True) in stub.transmissions
    assert stub.gave_up == []


def test_bad_checksum_is_naked_and_the_resend_is_stored(tmp_path):
    db = tmp_path / "scans.db"
    stub = SsiScanner(ack_timeout_s=5.0)
    sink = SqliteScanSink(db)

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="ssi-5") as line:
            driver = SsiScannerDriver(ssi_scanner("ssi-5", line.path), sink)
            async with supervised(driver):
                await sink.until(_online(sink, "ssi-5"), "scanner online")
                stub.scan("020-81140743", corrupt=True)
                await sink.until(lambda: stub.acked, "resend acked")
                line.inject(b"\x55\xaa\x00\x13\x37")
                stub.scan("after-garbage")
                await sink.until(lambda: len(stub.acked) == 2, "scan after garbage acked")
        return driver

    driver = asyncio.run(main())
    assert stub.transmissions[:2] == [("020-81140743", False), ("020-81140743", True)]
    assert sink.stored() == ["020-81140743", "after-garbage"]
    assert driver.counters["bad_checksum"] == 1 and driver.counters["naks_sent"] == 1
    assert driver.counters["garbled"] >= 1


class OutboxSink(RecordingSink):
    """The real outbox behind the sink: `emit` returns once `Outbox.record` committed."""

    def __init__(self, outbox):
        super().__init__()
        self.outbox = outbox

    async def emit(self, device, event):
        if isinstance(event, Scan):
            await self.outbox.record("scan", event)
        await super().emit(device, event)


def test_ack_only_after_the_real_outbox_committed_the_scan(tmp_path):
    from agent.outbox.store import Outbox

    path = tmp_path / "outbox.db"
    stub = SsiScanner(ack_timeout_s=5.0)
    in_file_at_ack: list[list[bytes]] = []

    def on_ack(text: str) -> None:
        db = sqlite3.connect(path)
        try:
            in_file_at_ack.append([row[0] for row in db.execute("SELECT payload FROM outbox WHERE type = 'scan'")])
        finally:
            db.close()

    stub.on_ack.append(on_ack)

    async def main():
        with Outbox(path, "gate-01") as outbox, VirtualSerial(stub, directory=tmp_path, name="ssi-6") as line:
            sink = OutboxSink(outbox)
            driver = SsiScannerDriver(ssi_scanner("ssi-6", line.path), sink)
            async with supervised(driver):
                await sink.until(_online(sink, "ssi-6"), "scanner online")
                stub.scan("CSQU3054383", barcode_type="code39")
                await sink.until(lambda: stub.acked, "decode acked")

    asyncio.run(main())
    assert len(in_file_at_ack) == 1 and len(in_file_at_ack[0]) == 1
    assert b"CSQU3054383" in bytes(in_file_at_ack[0][0])
