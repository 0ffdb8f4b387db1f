"""Barcode scanner driver, plain serial ("data as is") mode.

Bytes go to `PlainScannerDecoder` (terminator, prefix/suffix, max length from config); each
framed scan becomes a `Scan` event. A scanner configured without a terminator, or a frame cut
short, is ended by the idle timeout (`idle_timeout_s` of quiet -> `decoder.flush()`).

Plain mode has no handshake: the scanner cannot be told to resend, so a scan is only as safe
as the sink's commit that follows it. Garbled input (over-long lines, junk) is counted and
logged at debug, never raised. Counters: scans, garbled, garbled_bytes, bytes.
This module must never interpret what a scan means (that is the workflow's job).
"""

from __future__ import annotations

from agent.codecs.base import Garbled
from agent.codecs.scanner_plain import PlainScannerDecoder
from agent.config.devices import PlainScanner
from agent.contract.devices import Scan
from agent.devices.serial_port import SerialDriver


class PlainScannerDriver(SerialDriver[PlainScanner]):
    def reset(self) -> None:
        cfg = self.config
        self.idle_timeout_s = cfg.idle_timeout_s
        self.decoder = PlainScannerDecoder(cfg.terminator, cfg.prefix, cfg.suffix, cfg.max_length)

    async def on_bytes(self, data: bytes) -> None:
        await self._handle(self.decoder.feed(data))

    async def on_idle(self) -> None:
        await self._handle(self.decoder.flush())

    async def _handle(self, events: list) -> None:
        for event in events:
            if isinstance(event, Garbled):
                self.count_garbled(event)
                continue
            self.count("scans")
            await self.emit(Scan(device=self.name, data=event.data, symbology=event.symbology,
                                 barcode_type=event.barcode_type))
