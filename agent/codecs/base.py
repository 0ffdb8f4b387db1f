"""What every device codec shares: the `Garbled` event, the buffer bound, the decoder shape.

A codec turns bytes from a device into events and events into bytes. It never opens a port,
never sleeps, never reads a clock and never raises on what a device sends: anything it cannot
frame comes back as a `Garbled` event carrying the skipped bytes, so the driver can count them.

Decoder shape (duck-typed, see `Decoder`):
  - `feed(data) -> list[event]`  buffer, frame, resynchronise; bytes in any chunking give the
                                 same frames as the same bytes fed whole;
  - `flush() -> list[event]`     the driver's idle timeout fired: settle whatever is pending;
  - `buffered -> int`            bytes held back waiting for more; never above the decoder's bound.

Also here: the barcode type names shared by the plain (AIM) and SSI scanner codecs, so a scan
reads the same whichever mode the scanner is in, and the fixed-length STX framer the two
weighbridge codecs use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

# Upper bound for any configurable decoder buffer (the plain scanner's line length is checked
# against it). A scan longer than this is not a scan; the contract caps Scan.data at 4096 too.
MAX_BUFFER = 4096

STX = 0x02


@dataclass(frozen=True)
class Garbled:
    """Bytes a decoder skipped while resynchronising. `reason` says why, for the logs."""

    reason: str
    data: bytes


@dataclass(frozen=True)
class WeightFrame:
    """One weighbridge reading as the indicator sent it.

    `stable` is None when the format has no motion flag (Yaohua): the driver then asks a
    `StabilityDetector`. `tare` is None when the format carries no tare.
    """

    value: float
    unit: str
    mode: str  # "gross" | "net"
    stable: bool | None
    tare: float | None
    out_of_range: bool
    raw: bytes


class Decoder(Protocol):
    def feed(self, data: bytes) -> list[Any]: ...

    def flush(self) -> list[Any]: ...

    @property
    def buffered(self) -> int: ...


# One vocabulary for barcode types, whichever way the scanner reports them.
CODE39 = "code39"
CODABAR = "codabar"
CODE128 = "code128"
GS1_128 = "gs1_128"
I2OF5 = "i2of5"
EAN8 = "ean8"
EAN13 = "ean13"
PDF417 = "pdf417"
DATAMATRIX = "datamatrix"
GS1_DATAMATRIX = "gs1_datamatrix"
QR = "qr"
GS1_QR = "gs1_qr"
AZTEC = "aztec"
GS1_DATABAR = "gs1_databar"


def decode_text(raw: bytes) -> str:
    """Scanners send UTF-8 when configured for it, else a single-byte code page: try UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class StxFramer:
    """Finds fixed-length frames that open with STX in a byte stream, trying every STX.

    `check(frame)` returns the decoded event, or a reason string when the candidate is not a
    frame. A failed candidate costs only its STX byte: the search resumes one byte later, so a
    frame cut short by a dropped byte never swallows the whole frame that follows it.
    `mask` (a 256-byte translation table) lets a codec ignore a parity bit while searching.
    The buffer never holds more than `length - 1` bytes between calls.
    """

    def __init__(self, length: int, check: Callable[[bytes], Any], mask: bytes | None = None):
        self.length = length
        self._check = check
        self._mask = mask
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Any]:
        buf = self._buf
        buf += data
        view = bytes(buf) if self._mask is None else bytes(buf).translate(self._mask)
        out: list[Any] = []
        n, length = len(buf), self.length
        kept = 0  # bytes before `kept` are framed or dropped
        pos = 0  # next place to look for STX
        reason = ""
        while True:
            i = view.find(STX, pos)
            if i < 0:
                pos = n
                break
            if i + length > n:
                pos = i  # a candidate still arriving: keep it
                break
            frame = bytes(buf[i : i + length])
            result = self._check(frame)
            if isinstance(result, str):
                reason = reason or result
                pos = i + 1
                continue
            if i > kept:
                out.append(Garbled(reason or "no start byte", bytes(buf[kept:i])))
            out.append(result)
            kept = pos = i + length
            reason = ""
        if pos > kept:
            out.append(Garbled(reason or "no start byte", bytes(buf[kept:pos])))
        del buf[:pos]
        return out

    def flush(self) -> list[Any]:
        """Drop a candidate that never completed (the indicator stopped mid-frame)."""
        if not self._buf:
            return []
        dropped, self._buf = bytes(self._buf), bytearray()
        return [Garbled("incomplete frame", dropped)]


class FramedDecoder:
    """The decoder surface shared by fixed-length STX codecs: a subclass sets `self._framer`
    (a `StxFramer` with its own check) and gets `feed`, `flush` and `buffered`."""

    _framer: StxFramer

    @property
    def buffered(self) -> int:
        return self._framer.buffered

    def feed(self, data: bytes) -> list:
        return self._framer.feed(data)

    def flush(self) -> list:
        return self._framer.flush()
