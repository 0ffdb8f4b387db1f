"""The ID card reader through a real pty: the driver polls the SAM stub, reads a card once per
presentation, says "present again" when the card is pulled mid-read, asks again after a wrong
checksum, and goes offline when the reader is unplugged (and comes back on replug)."""

from __future__ import annotations

import asyncio

from _serial_kit import FAST, RecordingSink, supervised

from agent.codecs.sam import CardRead
from agent.config.devices import IdCardReader as IdCardReaderConfig
from agent.devices.idcard_reader import CardReadFailed, IdCardReaderDriver
from firmware_stubs.idcard_reader import SAMPLE_CARD, IdCardReader
from simulators.vserial import VirtualSerial

EXPIRED = SAMPLE_CARD | {"id_number": "110105199001010014", "valid_until": "20200101"}


def reader(path: str, **kw) -> IdCardReaderConfig:
    return IdCardReaderConfig(kind="idcard_reader", name="id-1", port=path, poll_s=0.05, reply_timeout_s=0.4,
                        **{**FAST, **kw})


def cards(sink: RecordingSink) -> list[CardRead]:
    return sink.of("id-1", CardRead)


def test_a_card_is_read_once_per_presentation(tmp_path):
    stub = IdCardReader()

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="id-1") as line:
            sink = RecordingSink()
            driver = IdCardReaderDriver(reader(line.path), sink)
            async with supervised(driver):
                await sink.until(lambda: "online" in sink.statuses("id-1"), "reader online")
                await sink.until(lambda: driver.counters["polls"] >= 3, "polling with no card")
                assert cards(sink) == []
                stub.present()
                await sink.until(lambda: cards(sink), "card read")
                polls = driver.counters["polls"]
                await sink.until(lambda: driver.counters["polls"] >= polls + 4, "more polls, card still there")
                assert len(cards(sink)) == 1, "a card lying on the reader is read once"
                stub.remove()
                stub.present(EXPIRED)
                await sink.until(lambda: len(cards(sink)) == 2, "the next presentation is read")
        return driver

    driver = asyncio.run(main())
    first, second = cards(sink := driver.sink)
    assert first.text.id_number == "11010519491231002X" and first.text.long_term
    assert second.text.valid_until == "20200101" and len(second.photo) == 1024
    assert stub.reads == 2 and driver.counters["cards"] == 2


def test_card_pulled_mid_read_and_wrong_checksums(tmp_path):
    stub = IdCardReader()

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="id-1") as line:
            sink = RecordingSink()
            driver = IdCardReaderDriver(reader(line.path), sink)
            async with supervised(driver):
                await sink.until(lambda: "online" in sink.statuses("id-1"), "reader online")
                stub.pull_mid_read = True
                stub.present()
                await sink.until(lambda: sink.of("id-1", CardReadFailed), "pulled card reported")
                assert cards(sink) == []
                stub.corrupt_replies = 1  # the next reply (a find) has a wrong checksum: asked again
                stub.present()
                await sink.until(lambda: cards(sink), "card read after a wrong checksum")
        return driver, sink

    driver, sink = asyncio.run(main())
    (failed,) = sink.of("id-1", CardReadFailed)
    assert "pulled" in failed.reason
    assert driver.counters["pulled"] == 1 and driver.counters["garbled_bytes"] >= 600
    assert driver.counters["bad_checksum"] == 1 and len(cards(sink)) == 1


def test_reader_unplugged_goes_offline_and_comes_back(tmp_path):
    stub = IdCardReader()

    async def main():
        with VirtualSerial(stub, directory=tmp_path, name="id-1") as line:
            sink = RecordingSink()
            driver = IdCardReaderDriver(reader(line.path), sink)
            async with supervised(driver):
                await sink.until(lambda: "online" in sink.statuses("id-1"), "reader online")
                line.unplug()
                await sink.until(lambda: sink.statuses("id-1")[-1] != "online", "reader offline")
                line.replug()
                await sink.until(lambda: sink.statuses("id-1")[-1] == "online", "reader back")
                stub.present()
                await sink.until(lambda: cards(sink), "card read after replug")
        return sink

    sink = asyncio.run(main())
    assert sink.statuses("id-1").count("online") >= 2
