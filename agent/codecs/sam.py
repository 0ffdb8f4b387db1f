"""Resident ID card reader (second generation), SAM serial protocol, both ends: host and reader.

One frame both ways: preamble `AA AA AA 96 69`, LEN (2 bytes, big-endian: the bytes after LEN,
checksum included), body, CHK = XOR of the two LEN bytes and the body. Host -> reader body:
CMD PARA [data]. Reader -> host body: SW1 SW2 SW3 [data]; SW3 says how it went (`STATUS`).
A read reply's data: text length (2, BE), photo length (2, BE), the 256-byte UCS-2LE text
block (fields in `TEXT_FIELDS`), the photo (vendor-encoded wlt: passed on opaque, never
decoded here).

Theory of resynchronisation (the preamble is the only start marker):
  - every preamble in the buffer starts a *candidate*, judged once its LEN has arrived: a
    LEN under 3 (no room for CMD/SW + CHK) or over `max_len` kills it at once;
  - a candidate is *pending* until LEN + 7 bytes have arrived, then *valid* (CHK good) or
    dead (reported as `BadChecksum` once, the bytes later in a `Garbled`);
  - the earliest valid candidate wins; the bytes before it - pending candidates included -
    are `Garbled`: a frame cut short by a lost byte must not hold back (or swallow) the
    frame behind it;
  - bytes are kept only from the earliest pending candidate (or a trailing partial
    preamble), so the buffer holds at most `max_len + 6` bytes between calls.
Known limit (as in ssi.py): fed in pieces, a frame whose *data* holds a complete valid frame
(preamble, length and checksum all lining up) loses to that inner frame.

Must never: raise on received bytes, buffer more than `max_len + 6` bytes, return a frame
whose checksum failed, or decode the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from agent.codecs.base import Garbled
from agent.errors import ProtocolError

__all__ = [
    "BadChecksum",
    "CardRead",
    "CardReadFailed",
    "CardText",
    "Garbled",
    "SamDecoder",
    "SamFrame",
    "command",
    "encode_frame",
    "parse_card",
    "reply",
    "xor_check",
]

PREAMBLE = bytes.fromhex("AA AA AA 96 69")
HEADER = len(PREAMBLE) + 2  # preamble + LEN
MIN_LEN = 3  # CMD PARA CHK (host) / SW1 SW2 SW3 would need 4, a host frame 3
MAX_LEN = 4096  # a text+photo read is 1,288; fingerprint readers send ~2,300

# commands (CMD, PARA)
SAM_STATUS = (0x11, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_TEXT_PHOTO = (0x30, 0x01)
RESET_SAM = (0x10, 0xFF)

# SW3 status bytes; the table is configurable per reader model, these are the common ones
SUCCESS = 0x90
CARD_FOUND = 0x9F
NO_CARD = 0x80
SELECT_FAILED = 0x81
READ_FAILED = 0x41
STATUS: dict[int, str] = {
    SUCCESS: "success",
    CARD_FOUND: "card found",
    NO_CARD: "no card found",
    SELECT_FAILED: "select failed",
    READ_FAILED: "read failed (unverified)",
}

TEXT_BYTES = 256
PHOTO_BYTES = 1024
#: (field, bytes) of the text block, in order; UCS-2LE, padded with spaces
TEXT_FIELDS: tuple[tuple[str, int], ...] = (
    ("name", 30),
    ("gender", 2),
    ("ethnic_group", 4),
    ("birth_date", 16),
    ("address", 70),
    ("id_number", 36),
    ("authority", 30),
    ("valid_from", 16),
    ("valid_until", 16),
    ("reserved", 36),
)
LONG_TERM = "长期"


def xor_check(data: bytes) -> int:
    """XOR of every byte, folded in halves on one big int (a 1,288-byte reply in ~2 us)."""
    n, width = int.from_bytes(data, "big"), len(data)
    while width > 1:
        half = (width + 1) // 2
        n = (n >> (8 * half)) ^ (n & ((1 << (8 * half)) - 1))
        width = half
    return n


def encode_frame(body: bytes) -> bytes:
    length = (len(body) + 1).to_bytes(2, "big")
    if len(body) + 1 > 0xFFFF:
        raise ValueError(f"SAM body of {len(body)} bytes does not fit one frame")
    return PREAMBLE + length + body + bytes([xor_check(length + body)])


def command(cmd: tuple[int, int], data: bytes = b"") -> bytes:
    """Host -> reader frame, e.g. `command(FIND_CARD)`."""
    return encode_frame(bytes(cmd) + data)


def reply(sw3: int, data: bytes = b"", sw1: int = 0x00, sw2: int = 0x00) -> bytes:
    """Reader -> host frame."""
    return encode_frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class SamFrame:
    """One frame whose checksum held. `body` is CMD PARA... (host) or SW1 SW2 SW3... (reader)."""

    body: bytes

    @property
    def raw(self) -> bytes:
        return encode_frame(self.body)

    @property
    def status(self) -> int:
        """SW3 of a reader reply (-1 when the body is too short to carry one)."""
        return self.body[2] if len(self.body) >= 3 else -1

    @property
    def data(self) -> bytes:
        return self.body[3:]

    @property
    def command(self) -> tuple[int, int] | None:
        return (self.body[0], self.body[1]) if len(self.body) >= 2 else None


@dataclass(frozen=True)
class BadChecksum:
    """A complete frame whose XOR failed: the host asks again; the reader stub ignores it."""

    frame_bytes: bytes


_PENDING, _DEAD = 0, -1


class SamDecoder:
    """SAM frames from a byte stream (either direction)."""

    def __init__(self, max_len: int = MAX_LEN):
        if not MIN_LEN <= max_len <= 0xFFFF:
            raise ValueError(f"max_len {max_len} is not {MIN_LEN}..65535")
        self.max_len = max_len
        self._buf = bytearray()
        self._judged: dict[int, int] = {}  # offset -> _DEAD (so a dead one is reported once)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _judge(self, buf: bytearray, i: int, out: list) -> int:
        if i + HEADER > len(buf):
            return _PENDING
        length = buf[i + 5] << 8 | buf[i + 6]
        if not MIN_LEN <= length <= self.max_len:
            return _DEAD
        end = i + HEADER + length
        if end > len(buf):
            return _PENDING
        if xor_check(bytes(buf[i + 5 : end])) == 0:  # LEN ^ body ^ CHK
            return end
        out.append(BadChecksum(bytes(buf[i:end])))
        return _DEAD

    def feed(self, data: bytes) -> list[SamFrame | BadChecksum | Garbled]:
        buf = self._buf
        buf += data
        out: list[SamFrame | BadChecksum | Garbled] = []
        cut = 0  # bytes before cut are framed or reported
        first_pending = -1
        pos = 0
        while True:
            i = buf.find(PREAMBLE, pos)
            if i < 0:
                break
            pos = i + 1
            verdict = self._judged.get(i)
            if verdict is None:
                verdict = self._judge(buf, i, out)
                if verdict == _DEAD:
                    self._judged[i] = _DEAD
            if verdict == _PENDING:
                if first_pending < 0:
                    first_pending = i
            elif verdict != _DEAD:
                if i > cut:
                    out.append(Garbled("no frame here", bytes(buf[cut:i])))
                out.append(SamFrame(bytes(buf[i + HEADER : verdict - 1])))
                cut = pos = verdict
                first_pending = -1
        if first_pending >= 0:
            keep = first_pending
        else:
            # a preamble may be arriving: keep its longest prefix at the end of the buffer
            keep = len(buf)
            for k in range(min(len(PREAMBLE) - 1, len(buf) - cut), 0, -1):
                if buf.endswith(PREAMBLE[:k]):
                    keep = len(buf) - k
                    break
        if keep > cut:
            out.append(Garbled("no frame here", bytes(buf[cut:keep])))
        del buf[:keep]
        self._judged = {i - keep: v for i, v in self._judged.items() if i >= keep}
        return out

    def flush(self) -> list[Garbled]:
        """The line went quiet: what is held is a frame that will never complete."""
        if not self._buf:
            return []
        dropped, self._buf, self._judged = bytes(self._buf), bytearray(), {}
        return [Garbled("incomplete frame", dropped)]


# -- the card ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CardText:
    """The text block, decoded. Dates stay as the card prints them (YYYYMMDD); `valid_until`
    is `LONG_TERM` for a long-term card. This holds the clear ID number: keep it in memory
    only, never log, store or send it (agent/personnel/privacy.py makes what may travel)."""

    name: str
    gender: str
    ethnic_group: str
    birth_date: str
    address: str
    id_number: str
    authority: str
    valid_from: str
    valid_until: str

    def __repr__(self) -> str:  # a stray log line must not carry the number or the name
        return f"CardText(id_number={mask_id(self.id_number)}, valid_until={self.valid_until})"

    @property
    def long_term(self) -> bool:
        return self.valid_until == LONG_TERM

    def validity(self) -> tuple[date, date | None]:
        """(first day, last day or None for long-term). Raises ProtocolError on a bad date."""
        try:
            start = _ymd(self.valid_from)
            end = None if self.long_term else _ymd(self.valid_until)
        except ValueError as err:
            raise ProtocolError(f"card validity is not a date: {err}") from None
        return start, end


@dataclass(frozen=True)
class CardRead:
    """A complete read reply: the text and the photo bytes as the card holds them."""

    text: CardText
    photo: bytes

    def __repr__(self) -> str:
        return f"CardRead({self.text!r}, photo={len(self.photo)} bytes)"


@dataclass(frozen=True)
class CardReadFailed:
    """A card was seen but could not be read (pulled mid-read, bad status, bad data): the
    driver's event, so the lane can ask for the card again."""

    reason: str


def mask_id(number: str) -> str:
    """110105********002X: area code and the last four, for display and logs."""
    return number[:6] + "*" * max(0, len(number) - 10) + number[-4:] if len(number) > 10 else "*" * len(number)


def _ymd(text: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise ValueError(repr(text))
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def encode_text(fields: dict[str, str]) -> bytes:
    """The 256-byte block from field values (the reader stub's side; missing fields blank)."""
    out = bytearray()
    for name, size in TEXT_FIELDS:
        raw = fields.get(name, "").encode("utf-16-le")
        if len(raw) > size:
            raise ValueError(f"{name} is longer than its {size} bytes")
        out += raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)
    return bytes(out)


def decode_text(block: bytes) -> CardText:
    if len(block) != TEXT_BYTES:
        raise ProtocolError(f"text block is {len(block)} bytes, not {TEXT_BYTES}")
    values: dict[str, str] = {}
    at = 0
    for name, size in TEXT_FIELDS:
        try:
            values[name] = block[at : at + size].decode("utf-16-le").rstrip(" \x00")
        except UnicodeDecodeError as err:
            raise ProtocolError(f"text field {name} is not UCS-2: {err}") from None
        at += size
    values.pop("reserved")
    return CardText(**values)


def read_reply(text: bytes, photo: bytes) -> bytes:
    """The reader's answer to READ_TEXT_PHOTO."""
    lengths = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
    return reply(SUCCESS, lengths + text + photo)


def parse_card(frame: SamFrame) -> CardRead:
    """The card in a successful read reply. Raises ProtocolError when the reply is not one."""
    if frame.status != SUCCESS:
        raise ProtocolError(f"read reply status {frame.status:#04x}: {STATUS.get(frame.status, 'unknown')}")
    data = frame.data
    if len(data) < 4:
        raise ProtocolError("read reply too short for its lengths")
    text_len, photo_len = int.from_bytes(data[0:2], "big"), int.from_bytes(data[2:4], "big")
    if text_len != TEXT_BYTES or len(data) != 4 + text_len + photo_len:
        raise ProtocolError(f"read reply lengths {text_len}+{photo_len} do not fit its {len(data) - 4} bytes")
    return CardRead(decode_text(data[4 : 4 + text_len]), bytes(data[4 + text_len :]))
