"""Staff badge reader behind a Wiegand-to-serial converter, raw-frame line mode.

Our documented choice (docs/personnel.md): the converter writes each Wiegand frame it hears
as one ASCII line, `<bits>:<HEX>` + CR/LF, where `<bits>` is 26 or 34 and `<HEX>` is the raw
frame, most significant bit first, right-aligned in 7 (26-bit) or 9 (34-bit) hex digits.
Raw mode keeps the parity bits, so the agent checks them itself (a converter's "decimal card
number" mode would hide a misread). Example: facility 1, card 1 -> `26:2020002`.

Wiegand-26: P(even over the next 12) + facility (8) + card (16) + P(odd over the previous 12).
Wiegand-34: P(even over the next 16) + facility (16) + card (16) + P(odd over the previous 16).

Theory of resynchronisation: a line is the unit. A line that is not `<bits>:<HEX>` with the
right digit count is `Garbled`; one with failed parity is `BadParity` (and its bytes are also
`Garbled`, so count bytes from `Garbled` only). Noise bytes outside printable ASCII are
dropped into the next `Garbled`. A line longer than `MAX_LINE` is cut and garbled.

Must never: raise on received bytes, hold more than MAX_LINE bytes, or return a badge whose
parity failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.codecs.base import Garbled

__all__ = ["BadParity", "BadgeFrame", "BadgeDecoder", "Garbled", "encode_line", "frame_bits"]

MAX_LINE = 32
FORMATS: dict[int, tuple[int, int]] = {26: (8, 16), 34: (16, 16)}  # bits -> (facility, card) widths
_DIGITS = {26: 7, 34: 9}
_TERMINATORS = b"\r\n"


@dataclass(frozen=True)
class BadgeFrame:
    bits: int  # 26 or 34
    facility: int
    card: int

    @property
    def badge_id(self) -> str:
        """The badge as the site's staff register names it: `<facility>-<card>`."""
        return f"{self.facility}-{self.card}"

    @property
    def raw(self) -> bytes:
        return encode_line(self.bits, self.facility, self.card)[:-2]


@dataclass(frozen=True)
class BadParity:
    line: bytes


def _ones(value: int) -> int:
    return bin(value).count("1")


def frame_bits(bits: int, facility: int, card: int) -> int:
    """The raw Wiegand frame (as an int, MSB = first bit sent) with both parity bits set."""
    fac_w, card_w = FORMATS[bits]
    if not (0 <= facility < 1 << fac_w and 0 <= card < 1 << card_w):
        raise ValueError(f"facility {facility} / card {card} do not fit Wiegand-{bits}")
    data = facility << card_w | card
    half = (fac_w + card_w) // 2
    first, last = data >> half, data & ((1 << half) - 1)
    even = _ones(first) & 1  # makes the first half + P even
    odd = 1 - (_ones(last) & 1)  # makes the last half + P odd
    return even << (bits - 1) | data << 1 | odd


def encode_line(bits: int, facility: int, card: int) -> bytes:
    return f"{bits}:{frame_bits(bits, facility, card):0{_DIGITS[bits]}X}\r\n".encode()


def _parse(line: bytes) -> BadgeFrame | BadParity | None:
    head, sep, digits = line.partition(b":")
    if not sep or head not in (b"26", b"34"):
        return None
    bits = int(head)
    if len(digits) != _DIGITS[bits] or not all(c in b"0123456789ABCDEFabcdef" for c in digits):
        return None
    value = int(digits, 16)
    if value >> bits:
        return None
    fac_w, card_w = FORMATS[bits]
    data = (value >> 1) & ((1 << (fac_w + card_w)) - 1)
    half = (fac_w + card_w) // 2
    even_ok = (_ones(value >> (bits - 1 - half)) & 1) == 0  # P + first half
    odd_ok = (_ones(value & ((1 << (half + 1)) - 1)) & 1) == 1  # last half + P
    if not (even_ok and odd_ok):
        return BadParity(line)
    return BadgeFrame(bits, data >> card_w, data & ((1 << card_w) - 1))


class BadgeDecoder:
    def __init__(self) -> None:
        self._line = bytearray()
        self._noise = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._line) + len(self._noise)

    def feed(self, data: bytes) -> list[BadgeFrame | BadParity | Garbled]:
        out: list[BadgeFrame | BadParity | Garbled] = []
        line, noise = self._line, self._noise
        for byte in data:
            if byte in _TERMINATORS:
                if line:
                    self._end_line(out)
                continue
            if not 0x20 <= byte < 0x7F:
                noise.append(byte)
                if len(noise) >= MAX_LINE:
                    out.append(Garbled("noise", bytes(noise)))
                    noise.clear()
                continue
            line.append(byte)
            if len(line) > MAX_LINE:
                out.append(Garbled("line too long", bytes(noise + line)))
                line.clear()
                noise.clear()
        return out

    def _end_line(self, out: list) -> None:
        line, noise = bytes(self._line), bytes(self._noise)
        self._line.clear()
        self._noise.clear()
        parsed = _parse(line)
        if isinstance(parsed, BadgeFrame):
            if noise:
                out.append(Garbled("noise", noise))
            out.append(parsed)
            return
        if isinstance(parsed, BadParity):
            out.append(parsed)
        out.append(Garbled("bad parity" if parsed else "not a badge line", noise + line))

    def flush(self) -> list[Garbled]:
        if not self.buffered:
            return []
        dropped = bytes(self._noise + self._line)
        self._line.clear()
        self._noise.clear()
        return [Garbled("incomplete line", dropped)]
