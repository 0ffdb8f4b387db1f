"""Mettler Toledo continuous output: the weighbridge indicator's 18-byte (or short) frame.

Frame: STX SWA SWB SWC W1..W6 [T1..T6] CR CHK (18 bytes; 12 in the short format, no tare).
  - CHK = (-sum(b & 0x7F for b in STX..CR)) & 0x7F. Every byte is masked with 0x7F on the way
    in because bit 7 may carry parity when the port is read as 8N1.
  - SWA bits 0-2: decimal point code (table below); bits 3-4 count-by (1, 2, 5).
  - SWB bit0 net, bit1 negative, bit2 out of range, bit3 motion, bit4 kg (else lb).
    Bits 5 and 6 are "fixed" but vendors disagree on their values: never validated.
  - SWC bits 0-2: the unit when it is not kg or lb: 000 = kg or lb as SWB bit 4 says,
    001 = grams, 010 = metric tons. Indicators that know more units use the other codes
    (ounces, troy ounces, pennyweight, long tons, custom units on some models; unverified):
    the contract carries kg, lb, t and g only, so such a frame is not a weight we may
    publish - it becomes `UnitRefused` (the driver counts it), never a number in the wrong
    unit. Older indicators send only bit 0 (grams) and 0 in bits 1-2: read the same way.
  - W and T: six ASCII digits, no sign, no point; leading zeros may come as spaces.

Decimal point codes 0 and 1 (XXXX00, XXXXX0) are read as "the six digits count hundreds /
tens" (unverified against a real indicator; `_EXPONENT` is the one place to change).

Must never: raise on received bytes, hold more than one frame's bytes, or guess a weight from
a frame whose checksum or layout is wrong (that becomes `Garbled`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.codecs.base import STX, FramedDecoder, Garbled, StxFramer, WeightFrame

__all__ = ["Garbled", "ToledoDecoder", "UnitRefused", "WeightFrame", "encode_toledo", "toledo_checksum"]

CR = 0x0D
FULL_LENGTH = 18
SHORT_LENGTH = 12

# decimal point code -> power of ten applied to the six transmitted digits
_EXPONENT = {0: 2, 1: 1, 2: 0, 3: -1, 4: -2, 5: -3, 6: -4, 7: -5}

SWB_NET, SWB_NEGATIVE, SWB_OUT_OF_RANGE, SWB_MOTION, SWB_KG = 0x01, 0x02, 0x04, 0x08, 0x10
SWC_UNIT = 0x07
#: SWC unit code -> the contract's unit (code 0: SWB bit 4 decides kg or lb)
_SWC_UNITS = {1: "g", 2: "t"}
_SWC_CODE = {unit: code for code, unit in _SWC_UNITS.items()}
_FIXED_BIT5 = 0x20  # sent set by the indicators we emulate; not checked on receive
_COUNT_BY_1 = 0x08  # SWA bits 3-4 = 01

_PARITY_MASK = bytes(b & 0x7F for b in range(256))


@dataclass(frozen=True)
class UnitRefused:
    """A well-formed frame in a unit the contract does not carry (SWC unit code 3-7)."""

    reason: str
    unit_code: int
    raw: bytes


def toledo_checksum(data: bytes) -> int:
    return (-sum(b & 0x7F for b in data)) & 0x7F


def _scale(count: int, code: int) -> float:
    exp = _EXPONENT[code]
    return float(count * 10**exp) if exp >= 0 else count / 10**-exp


def _count(value: float, code: int, field: str) -> int:
    exp = _EXPONENT[code]
    count = round(abs(value) / 10**exp) if exp >= 0 else round(abs(value) * 10**-exp)
    if count > 999_999:
        raise ValueError(f"{field} {value} does not fit six digits with decimal code {code}")
    return count


def _digits(count: int, blank_zeros: bool) -> bytes:
    text = f"{count:6d}" if blank_zeros else f"{count:06d}"
    if blank_zeros and count == 0:
        text = "     0"
    return text.encode("ascii")


def encode_toledo(
    value: float,
    *,
    unit: str = "lb",
    net: bool = False,
    negative: bool = False,
    motion: bool = False,
    out_of_range: bool = False,
    decimal_code: int | None = None,
    dp: int = 0,
    tare: float = 0,
    short: bool = False,
    blank_zeros: bool = False,
) -> bytes:
    """One frame as the indicator sends it. `dp` decimal places, or `decimal_code` directly.

    A negative `value` sets the negative bit. `blank_zeros` sends leading zeros as spaces.
    Raises ValueError for what no indicator could send (our misuse, not the peer's).
    """
    if unit not in ("kg", "lb", "t", "g"):
        raise ValueError(f"the Toledo frame carries kg, lb, t or g, not {unit!r}")
    code = dp + 2 if decimal_code is None else decimal_code
    if code not in _EXPONENT:
        raise ValueError(f"decimal code {code} is not 0..7 (dp {dp} is not 0..5)")
    swa = 0x20 | _COUNT_BY_1 | code
    swb = _FIXED_BIT5
    swb |= SWB_NET if net else 0
    swb |= SWB_NEGATIVE if (negative or value < 0) else 0
    swb |= SWB_OUT_OF_RANGE if out_of_range else 0
    swb |= SWB_MOTION if motion else 0
    swb |= SWB_KG if unit != "lb" else 0
    body = bytes([STX, swa, swb, 0x20 | _SWC_CODE.get(unit, 0)]) + _digits(_count(value, code, "weight"), blank_zeros)
    if not short:
        body += _digits(_count(tare, code, "tare"), blank_zeros)
    body += bytes([CR])
    return body + bytes([toledo_checksum(body)])


def _field(masked: bytes) -> int | None:
    text = masked.decode("ascii").lstrip(" ")
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)


class ToledoDecoder(FramedDecoder):
    """Continuous-output frames from a byte stream; `short=True` for the no-tare format."""

    def __init__(self, short: bool = False):
        self.short = short
        length = SHORT_LENGTH if short else FULL_LENGTH
        self._framer = StxFramer(length, self._check, mask=_PARITY_MASK)

    def _check(self, raw: bytes) -> WeightFrame | UnitRefused | str:
        m = raw.translate(_PARITY_MASK)
        if m[-2] != CR:
            return "no CR where the frame ends"
        if (sum(m[:-1]) + m[-1]) & 0x7F:
            return "bad checksum"
        swa, swb, swc = m[1], m[2], m[3]
        code = swa & 0x07
        weight = _field(m[4:10])
        tare = None if self.short else _field(m[10:16])
        if weight is None or (not self.short and tare is None):
            return "weight field is not digits"
        unit_code = swc & SWC_UNIT
        if unit_code and unit_code not in _SWC_UNITS:
            return UnitRefused(f"status word C unit code {unit_code} is not a unit of the contract (kg, lb, t, g)",
                               unit_code, raw)
        value = _scale(weight, code)
        return WeightFrame(
            value=-value if swb & SWB_NEGATIVE and value else value,
            unit=_SWC_UNITS.get(unit_code) or ("kg" if swb & SWB_KG else "lb"),
            mode="net" if swb & SWB_NET else "gross",
            stable=not swb & SWB_MOTION,
            tare=None if tare is None else _scale(tare, code),
            out_of_range=bool(swb & SWB_OUT_OF_RANGE),
            raw=raw,
        )
