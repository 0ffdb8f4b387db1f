"""Zebra/Symbol SSI scanner driver (packet mode): a scan is ACKed only once it is stored.

For each DECODE_DATA packet from the scanner:
  1. `await self.emit(Scan(...))` - returns only after the runtime committed the scan to the
     outbox (see `DeviceSink`);
  2. then write CMD_ACK.
If the emit fails (storage full, the agent is stopping or dies), no ACK goes out: the scanner
retransmits (status bit0 set) after its response timeout, and the scan is stored then. This
is what makes "nothing lost" hold for scans: the scanner's memory of an unacknowledged decode
outlives an agent crash.

Duplicates: if our ACK was lost on the line, the scanner retransmits a decode we already
stored. A DECODE_DATA with the retransmit bit whose content (type + data) equals the last
*committed* decode is ACKed again but not emitted (counter `duplicates`). Without the
retransmit bit an identical decode is a new scan (the driver scanned the same label twice).
The memory is per driver instance: after an agent restart a decode committed but not ACKed
before the crash arrives once more (at-least-once, visible as two scan ids).

Other packets: a bad checksum is answered NAK RESEND; any other scanner packet (EVENT,
REPLY_REVISION, ...) is ACKed as SSI requires; ACK/NAK from the scanner are counted. A decode
that carries no type byte is answered NAK DENIED and counted `bad_decode`.

Counters: packets, decodes, scans, acks_sent, naks_sent, duplicates, bad_checksum, garbled,
emit_failed, bad_decode. This module must never ACK a decode before `emit` returned.
"""

from __future__ import annotations

import asyncio
import logging

from agent.codecs import ssi
from agent.codecs.base import Garbled
from agent.config.devices import SsiScanner
from agent.contract.devices import Scan
from agent.devices.serial_port import SerialDriver
from agent.errors import ProtocolError

log = logging.getLogger(__name__)


class SsiScannerDriver(SerialDriver[SsiScanner]):
    # A packet takes ~6 ms at 9600 baud; a partial one still held after this much quiet will
    # never complete (a byte was lost), so the decoder drops it.
    idle_timeout_s = 0.3

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_committed: bytes | None = None

    def reset(self) -> None:
        self.decoder = ssi.SsiDecoder()

    async def on_idle(self) -> None:
        self._count_garbled(self.decoder.flush())

    def _count_garbled(self, events: list) -> None:
        for event in events:
            self.count_garbled(event)

    async def on_bytes(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if isinstance(event, Garbled):
                self._count_garbled([event])
            elif isinstance(event, ssi.BadChecksum):
                self.count("bad_checksum")
                await self._send(ssi.nak(ssi.RESEND), "naks_sent")
            elif event.source != ssi.SOURCE_DECODER:
                self.count("foreign_packets")  # our own host packets echoed back: ignore
            else:
                self.count("packets")
                await self._packet(event)

    async def _packet(self, packet: ssi.SsiPacket) -> None:
        if packet.opcode == ssi.DECODE_DATA:
            await self._decode(packet)
        elif packet.opcode == ssi.CMD_ACK:
            self.count("acks_received")
        elif packet.opcode == ssi.CMD_NAK:
            self.count("naks_received")
        else:
            await self._send(ssi.ack(), "acks_sent")

    async def _decode(self, packet: ssi.SsiPacket) -> None:
        self.count("decodes")
        if packet.retransmit and packet.data == self._last_committed:
            self.count("duplicates")
            await self._send(ssi.ack(), "acks_sent")
            return
        try:
            barcode_type, text = ssi.decode_data(packet)
        except ProtocolError as err:
            self.count("bad_decode")
            log.debug("device %s: %s", self.name, err)
            await self._send(ssi.nak(ssi.DENIED), "naks_sent")
            return
        try:
            await self.emit(Scan(device=self.name, data=text, barcode_type=barcode_type))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - not stored: stay silent, the scanner retransmits
            self.count("emit_failed")
            log.warning("device %s: scan not stored (%s); no ACK, the scanner will retransmit", self.name, err)
            return
        self._last_committed = packet.data
        self.count("scans")
        await self._send(ssi.ack(), "acks_sent")

    async def _send(self, data: bytes, counter: str) -> None:
        # counted first: once the bytes are out the scanner may act before this task resumes
        self.count(counter)
        await self.write(data)
