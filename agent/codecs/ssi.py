"""Zebra/Symbol SSI (Simple Serial Interface) packet mode, both ends: scanner and host.

Packet: Len Opcode Src Status Data... CkHi CkLo. Len counts every byte but the checksum, so a
packet is Len + 2 bytes (6..257). Src is 0x00 (decoder, the scanner) or 0x04 (host). Status
bit0 = retransmit. Checksum: (0x10000 - sum(Len..last data byte)) & 0xFFFF, high byte first.

Theory of resynchronisation (there is no start byte, so every offset is a possible start):
  - offset i is a *candidate* when Len >= 4, Len + 2 <= max_packet and Src is 0x00 or 0x04;
  - a candidate is *pending* until its Len + 2 bytes have arrived, then *valid* (checksum
    good) or dead;
  - the earliest valid candidate wins; every byte before it is `Garbled`, and so are the
    pending candidates before it: a bogus length byte that "leads nowhere" must not hold back
    (or swallow) the real packet behind it, or the scanner would wait for an ACK that never
    comes;
  - each offset is judged once and each checksum summed once, so the work per byte is
    bounded by max_packet; bytes are kept only from the earliest pending candidate, so the
    buffer never exceeds max_packet - 1 bytes between calls.
Known limit: fed byte by byte, a packet whose *data* happens to contain a complete valid
packet loses to that inner packet (its checksum, source and length must all line up).

A dead candidate with a known opcode is also reported as `BadChecksum` (the driver answers
NAK RESEND); its bytes are still reported again in a later `Garbled`, so count bytes from
`Garbled` only. Multi-packet decodes (status bit1, continuation) are not reassembled here.

Must never: raise on received bytes, buffer more than max_packet bytes, or return a packet
whose checksum failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.codecs import base
from agent.codecs.base import Garbled, decode_text
from agent.errors import ProtocolError

__all__ = [
    "BadChecksum",
    "Garbled",
    "SsiDecoder",
    "SsiPacket",
    "ack",
    "checksum",
    "decode_data",
    "encode_packet",
    "nak",
]

# opcodes
DECODE_DATA = 0xF3
CMD_ACK = 0xD0
CMD_NAK = 0xD1
BEEP = 0xE6
SCAN_ENABLE = 0xE9
SCAN_DISABLE = 0xEA
START_SESSION = 0xE4
STOP_SESSION = 0xE5
PARAM_SEND = 0xC6
REQUEST_REVISION = 0xA3
REPLY_REVISION = 0xA4
EVENT = 0xF6
KNOWN_OPCODES = frozenset(
    {
        DECODE_DATA,
        CMD_ACK,
        CMD_NAK,
        BEEP,
        SCAN_ENABLE,
        SCAN_DISABLE,
        START_SESSION,
        STOP_SESSION,
        PARAM_SEND,
        REQUEST_REVISION,
        REPLY_REVISION,
        EVENT,
    }
)

# message sources
SOURCE_DECODER = 0x00
SOURCE_HOST = 0x04
_SOURCES = (SOURCE_DECODER, SOURCE_HOST)

# status bits
STATUS_RETRANSMIT = 0x01
STATUS_CONTINUATION = 0x02
STATUS_PERMANENT = 0x08

# CMD_NAK causes
RESEND = 1
BAD_CONTEXT = 2
DENIED = 6

PARAM_PACKET_MODE = 0xEE  # the scanner sends raw decode data until this is switched on

# barcode type byte -> name (the same names the plain scanner's AIM identifiers map to)
BARCODE_TYPES: dict[int, str] = {
    0x01: base.CODE39,
    0x02: base.CODABAR,
    0x03: base.CODE128,
    0x06: base.I2OF5,
    0x0A: base.EAN8,
    0x0B: base.EAN13,
    0x0F: base.GS1_128,
    0x11: base.PDF417,
    0x1B: base.DATAMATRIX,
    0x1C: base.QR,
    0x2D: base.AZTEC,
    0xC1: base.GS1_DATAMATRIX,
    0xC2: base.GS1_QR,
}
BARCODE_TYPE_BYTES: dict[str, int] = {name: code for code, name in BARCODE_TYPES.items()}

MIN_LEN = 4  # Len Opcode Src Status
MAX_PACKET = 257  # Len is one byte: 255 + two checksum bytes


def checksum(data: bytes) -> int:
    """Two's complement of the 16-bit sum: `(sum(data) + checksum(data)) & 0xFFFF == 0`."""
    return (0x10000 - sum(data)) & 0xFFFF


def encode_packet(opcode: int, source: int, data: bytes = b"", status: int = 0) -> bytes:
    length = MIN_LEN + len(data)
    if length > 255:
        raise ValueError(f"SSI data of {len(data)} bytes does not fit one packet")
    body = bytes([length, opcode, source, status]) + data
    return body + checksum(body).to_bytes(2, "big")


def ack(source: int = SOURCE_HOST) -> bytes:
    return encode_packet(CMD_ACK, source)


def nak(cause: int, source: int = SOURCE_HOST) -> bytes:
    return encode_packet(CMD_NAK, source, bytes([cause]))


@dataclass(frozen=True)
class SsiPacket:
    opcode: int
    source: int
    status: int
    data: bytes

    @property
    def retransmit(self) -> bool:
        return bool(self.status & STATUS_RETRANSMIT)

    @property
    def raw(self) -> bytes:
        # Len and checksum are functions of the rest, so re-encoding gives the wire bytes.
        return encode_packet(self.opcode, self.source, self.data, self.status)


@dataclass(frozen=True)
class BadChecksum:
    """A complete packet with a known opcode whose checksum failed: answer NAK RESEND."""

    packet_bytes: bytes


def decode_data(packet: SsiPacket) -> tuple[str, str]:
    """(barcode type name, text) of a DECODE_DATA packet. An unknown type byte reads as
    'ssi_0xNN'. Raises ProtocolError for a packet that is not a decode or carries no type."""
    if packet.opcode != DECODE_DATA or not packet.data:
        raise ProtocolError(f"not a DECODE_DATA packet with a type byte: {packet.raw.hex(' ')}")
    kind = packet.data[0]
    return BARCODE_TYPES.get(kind, f"ssi_0x{kind:02x}"), decode_text(packet.data[1:])


_PENDING, _DEAD = 0, -1


class SsiDecoder:
    """SSI packets from a byte stream (either direction: the host decodes scanner packets,
    the scanner stub decodes host packets)."""

    def __init__(self, max_packet: int = MAX_PACKET):
        if not MIN_LEN + 2 <= max_packet <= MAX_PACKET:
            raise ValueError(f"max_packet {max_packet} is not {MIN_LEN + 2}..{MAX_PACKET}")
        self.max_packet = max_packet
        self._buf = bytearray()
        self._pending: list[int] = []  # candidate offsets waiting for bytes, ascending
        self._examined = 0  # offsets below this are judged (dead, pending or framed)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _judge(self, buf: bytearray, i: int, out: list) -> int:
        """_PENDING, _DEAD, or the end offset of a valid packet starting at i."""
        length = buf[i]
        if length < MIN_LEN or length + 2 > self.max_packet or buf[i + 2] not in _SOURCES:
            return _DEAD
        end = i + length + 2
        if end > len(buf):
            return _PENDING
        if (sum(buf[i : i + length]) + (buf[end - 2] << 8 | buf[end - 1])) & 0xFFFF == 0:
            return end
        if buf[i + 1] in KNOWN_OPCODES:
            out.append(BadChecksum(bytes(buf[i:end])))
        return _DEAD

    def feed(self, data: bytes) -> list[SsiPacket | BadChecksum | Garbled]:
        buf = self._buf
        buf += data
        n = len(buf)
        out: list[SsiPacket | BadChecksum | Garbled] = []
        cut = 0  # bytes before cut are framed or dropped
        kept: list[int] = []  # still-pending candidates at or after cut
        pending, k = self._pending, 0
        examined = self._examined
        while True:
            # earlier-judged pending candidates first, then fresh offsets: ascending order
            if k < len(pending):
                i, k = pending[k], k + 1
                if i < cut:
                    continue
            elif max(examined, cut) + 2 < n:  # Src (at i + 2) must be here to judge i
                i = examined = max(examined, cut)
                examined += 1
            else:
                break
            verdict = self._judge(buf, i, out)
            if verdict == _PENDING:
                kept.append(i)
            elif verdict != _DEAD:
                if i > cut:
                    out.append(Garbled("no packet here", bytes(buf[cut:i])))
                out.append(
                    SsiPacket(buf[i + 1], buf[i + 2], buf[i + 3], bytes(buf[i + 4 : verdict - 2]))
                )
                cut, kept = verdict, []
        examined = max(examined, cut)
        keep_from = kept[0] if kept else examined
        if keep_from > cut:
            out.append(Garbled("no packet here", bytes(buf[cut:keep_from])))
        del buf[:keep_from]
        self._pending = [p - keep_from for p in kept]
        self._examined = examined - keep_from
        return out

    def flush(self) -> list[Garbled]:
        """The line went quiet: whatever is held is a packet that will never complete."""
        if not self._buf:
            return []
        dropped = bytes(self._buf)
        self._buf, self._pending, self._examined = bytearray(), [], 0
        return [Garbled("incomplete packet", dropped)]
