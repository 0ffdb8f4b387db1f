"""Yaohua XK3190-A9 continuous output: the 12-byte frame of many Chinese weighbridge indicators.

Frame: 02 sign W1..W6 dp XH XL 03
  - sign '+' or '-'; W1..W6 ASCII digits, most significant first (a leading space reads as 0);
  - dp '0'..'4' is the number of decimal places: digits 002000 with dp '2' are 20.00;
  - XH XL: the XOR of the eight bytes sign..dp, as two hex ASCII digits (either case accepted).
The frame has no unit, no tare, no net flag and no motion flag: the unit comes from config,
mode is always "gross", and `stable` is None (the driver asks a `StabilityDetector`).

Must never: raise on received bytes, hold more than one frame's bytes, or report a weight from
a frame whose check or layout is wrong (that becomes `Garbled`).
"""

from __future__ import annotations

from functools import reduce
from operator import xor

from agent.codecs.base import STX, FramedDecoder, Garbled, StxFramer, WeightFrame

__all__ = ["Garbled", "WeightFrame", "YaohuaDecoder", "encode_yaohua", "yaohua_check"]

ETX = 0x03
LENGTH = 12
_HEX = b"0123456789ABCDEFabcdef"


def yaohua_check(body: bytes) -> int:
    """XOR of sign..dp (the eight bytes after STX)."""
    return reduce(xor, body, 0)


def encode_yaohua(value: float, dp: int = 0, unit: str = "kg") -> bytes:
    """One frame as the indicator sends it. `unit` is not on the wire; it is accepted so the
    stubs can call both weighbridge encoders alike. Raises ValueError for impossible input."""
    if not 0 <= dp <= 4:
        raise ValueError(f"dp {dp} is not 0..4")
    count = round(abs(value) * 10**dp)
    if count > 999_999:
        raise ValueError(f"weight {value} does not fit six digits with {dp} decimals")
    body = (b"-" if value < 0 else b"+") + f"{count:06d}{dp}".encode("ascii")
    return bytes([STX]) + body + f"{yaohua_check(body):02X}".encode("ascii") + bytes([ETX])


class YaohuaDecoder(FramedDecoder):
    """XK3190-A9 frames from a byte stream. `unit` is what the indicator is set to show."""

    def __init__(self, unit: str = "kg"):
        self.unit = unit
        self._framer = StxFramer(LENGTH, self._check)

    def _check(self, raw: bytes) -> WeightFrame | str:
        if raw[-1] != ETX:
            return "no ETX where the frame ends"
        body, xh, xl = raw[1:9], raw[9], raw[10]
        if xh not in _HEX or xl not in _HEX:
            return "check is not hex"
        if int(bytes([xh, xl]), 16) != yaohua_check(body):
            return "bad check"
        sign, digits, dp = body[0], body[1:7].lstrip(b" "), body[7]
        if sign not in b"+-" or not (b"0"[0] <= dp <= b"4"[0]):
            return "bad sign or decimal point"
        if digits and not (digits.isascii() and digits.isdigit()):
            return "weight field is not digits"
        count = int(digits) if digits else 0
        places = dp - b"0"[0]
        value = count / 10**places if places else float(count)
        return WeightFrame(
            value=-value if sign == b"-"[0] and value else value,
            unit=self.unit,
            mode="gross",
            stable=None,
            tare=None,
            out_of_range=False,
            raw=raw,
        )
