"""Zebra/Symbol SSI scanner stub: packet mode with ACK wait and retransmits, or raw mode.

Packet mode, per decode (one at a time, the rest queue as a real scanner's buffer would):
  send DECODE_DATA -> wait `ack_timeout_s` for CMD_ACK -> no ACK: send again with the
  retransmit bit, at most `retries` (2) times -> still nothing: give up (`gave_up`).
  CMD_NAK RESEND from the host -> send again at once with the retransmit bit (at most
  `max_resends` per decode, so a host that NAKs everything cannot loop us forever).
  Host packets other than ACK/NAK (BEEP, SCAN_ENABLE, ...) are ACKed; a host packet with a
  bad checksum is answered NAK RESEND.
Raw mode: the decode goes out as plain text + terminator and nothing is awaited.

Scripted API: `scan("1234", barcode_type="code128")`, `scan(..., corrupt=True)` (first
transmission with a broken checksum), `packet_mode`, and what happened: `acked`, `gave_up`,
`transmissions` (every DECODE_DATA sent, (data, retransmit) pairs), `on_ack` callbacks.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from agent.clock import SYSTEM_CLOCK, Clock
from agent.codecs import ssi
from agent.codecs.scanner_plain import encode_plain
from firmware_stubs.base import Firmware


@dataclass
class _Decode:
    data: bytes  # type byte + text
    corrupt: bool = False
    tries: int = 0  # retransmits used
    resends: int = 0  # NAK RESEND answers used
    deadline: float = 0.0

    @property
    def text(self) -> str:
        return self.data[1:].decode("utf-8", "replace")


class SsiScanner(Firmware):
    def __init__(self, *, packet_mode: bool = True, ack_timeout_s: float = 2.0, retries: int = 2,
                 max_resends: int = 3, terminator: str = "CRLF", clock: Clock = SYSTEM_CLOCK,
                 rng: random.Random | None = None):
        super().__init__(clock=clock, rng=rng)
        self.packet_mode = packet_mode
        self.ack_timeout_s = ack_timeout_s
        self.retries = retries
        self.max_resends = max_resends
        self.terminator = terminator
        self.decoder = ssi.SsiDecoder()
        self._queue: deque[_Decode] = deque()
        self._current: _Decode | None = None
        self.acked: list[str] = []
        self.gave_up: list[str] = []
        self.transmissions: list[tuple[str, bool]] = []
        self.host_packets: list[ssi.SsiPacket] = []
        self.on_ack: list[Callable[[str], None]] = []

    # -- scripted API ------------------------------------------------------------------------
    def scan(self, text: str, barcode_type: str = "code128", corrupt: bool = False) -> None:
        with self.lock:
            if not self.packet_mode:
                self.send(encode_plain(text, terminator=self.terminator))
                return
            type_byte = ssi.BARCODE_TYPE_BYTES[barcode_type]
            self._queue.append(_Decode(bytes([type_byte]) + text.encode("utf-8"), corrupt=corrupt))

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing waiting for an ACK."""
        with self.lock:
            return self._current is None and not self._queue

    # -- wire ----------------------------------------------------------------------------------
    def _transmit(self, decode: _Decode, retransmit: bool, now: float) -> None:
        status = ssi.STATUS_RETRANSMIT if retransmit else 0
        packet = ssi.encode_packet(ssi.DECODE_DATA, ssi.SOURCE_DECODER, decode.data, status)
        if decode.corrupt and not retransmit:
            packet = packet[:-1] + bytes([packet[-1] ^ 0xFF])
        self.send(packet)
        self.transmissions.append((decode.text, retransmit))
        decode.deadline = now + self.ack_timeout_s

    def on_tick(self, now: float) -> None:
        if self._current is None and self._queue:
            self._current = self._queue.popleft()
            self._transmit(self._current, False, now)
        current = self._current
        if current is not None and now >= current.deadline:
            if current.tries < self.retries:
                current.tries += 1
                self._transmit(current, True, now)
            else:
                self.gave_up.append(current.text)
                self._current = None

    def on_receive(self, data: bytes) -> None:
        now = self.clock.monotonic()
        for event in self.decoder.feed(data):
            if isinstance(event, ssi.BadChecksum):
                self.send(ssi.nak(ssi.RESEND, source=ssi.SOURCE_DECODER))
            elif isinstance(event, ssi.SsiPacket) and event.source == ssi.SOURCE_HOST:
                self.host_packets.append(event)
                self._host_packet(event, now)

    def _host_packet(self, packet: ssi.SsiPacket, now: float) -> None:
        current = self._current
        if packet.opcode == ssi.CMD_ACK:
            if current is not None:
                self.acked.append(current.text)
                self._current = None
                for callback in self.on_ack:
                    callback(current.text)
        elif packet.opcode == ssi.CMD_NAK:
            cause = packet.data[0] if packet.data else 0
            if current is not None and cause == ssi.RESEND and current.resends < self.max_resends:
                current.resends += 1
                self._transmit(current, True, now)
        else:
            self.send(ssi.ack(source=ssi.SOURCE_DECODER))
