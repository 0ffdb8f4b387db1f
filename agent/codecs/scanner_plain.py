"""Barcode scanner in plain serial ("data as is") mode: lines of text, one scan per line.

Line: [prefix] []Xm AIM identifier] data [suffix] terminator
  - terminator CR, LF or CRLF as configured; "ANY" takes each of them (CRLF counts once:
    empty lines are never scans). In CR (LF) mode a stray LF (CR) at a line's edge is dropped.
  - the driver calls `flush()` after its idle timeout: a pending unterminated line is a scan.
  - the AIM identifier (`]` + letter + modifier) is split off into `symbology` and mapped to
    `barcode_type`; GS (0x1D, GS1 FNC1) and the other ISO 15434 separators stay in the data.
  - a scan is UTF-8 text: bytes that do not decode as UTF-8, and C1 control characters
    (U+0080-U+009F, what a wrong baud rate or a noisy line turns into), make the line
    `Garbled`, never a scan (a scanner sending a single-byte code page must be set to UTF-8).

Resynchronisation: the line is the frame, so garbage can only be cut at line edges.
  - NUL and 0xFF bytes (what a break or a framing error leaves on an RS-232 line) are line
    noise: removed wherever they are and reported as `Garbled`; a scan never contains them.
  - a scan carrying other control bytes is `Garbled` (a scanner never sends them; the
    prefix and suffix may hold any bytes, STX/ETX are common).
  - with a prefix configured, bytes before the first prefix are `Garbled`, and a line without
    the prefix (or without the configured suffix) is `Garbled`.
  - a line longer than max_length is `Garbled` up to the next terminator: its tail is never
    taken for a scan. So the buffer never holds more than max_length + 1 bytes.

Must never: raise on received bytes, return a partial line as a scan except from `flush()`,
or hold an unbounded line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.codecs import base
from agent.codecs.base import MAX_BUFFER, Garbled

__all__ = ["Garbled", "PlainScannerDecoder", "ScanFrame", "aim_barcode_type", "encode_plain"]

_TERMINATORS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}
_SPLIT = {
    "CR": re.compile(rb"\r"),
    "LF": re.compile(rb"\n"),
    "CRLF": re.compile(rb"\r\n"),
    "ANY": re.compile(rb"\r\n|\r|\n"),
}
_STRAY = {"CR": b"\n", "LF": b"\r", "CRLF": b"", "ANY": b""}
_NOISE = b"\x00\xff"
# C0 controls a scanner never sends; EOT, HT and FS/GS/RS/US (ISO 15434) are allowed in data
_FORBIDDEN = re.compile(rb"[\x01-\x03\x05-\x08\x0a-\x1b\x7f]")
_C1 = re.compile("[\x80-\x9f]")
_AIM = re.compile(rb"\][A-Za-z][0-9A-Za-z]")

# AIM identifier -> barcode type: exact identifiers first, then by symbology letter
_AIM_EXACT = {
    "]C1": base.GS1_128,
    "]d2": base.GS1_DATAMATRIX,
    "]d5": base.GS1_DATAMATRIX,
    "]Q3": base.GS1_QR,
    "]Q4": base.GS1_QR,
    "]E4": base.EAN8,
}
_AIM_LETTER = {
    "A": base.CODE39,
    "C": base.CODE128,
    "d": base.DATAMATRIX,
    "E": base.EAN13,
    "e": base.GS1_DATABAR,
    "F": base.CODABAR,
    "I": base.I2OF5,
    "L": base.PDF417,
    "Q": base.QR,
    "z": base.AZTEC,
}


def aim_barcode_type(symbology: str) -> str | None:
    """']C1' -> 'gs1_128'; None for a symbology we have no name for."""
    return _AIM_EXACT.get(symbology) or _AIM_LETTER.get(symbology[1:2])


@dataclass(frozen=True)
class ScanFrame:
    data: str
    symbology: str | None  # the AIM identifier as sent, e.g. "]C1"
    barcode_type: str | None  # e.g. "gs1_128"
    raw: bytes  # the line as received, without terminator and line noise


def encode_plain(
    data: str, terminator: str = "CRLF", aim: str | None = None, prefix: str = "", suffix: str = ""
) -> bytes:
    """A scan as a scanner in plain mode sends it. `aim` as "]C1" (or "C1")."""
    if terminator not in _TERMINATORS:
        raise ValueError(f"terminator {terminator!r} is not one of {sorted(_TERMINATORS)}")
    ident = "" if aim is None else (aim if aim.startswith("]") else "]" + aim)
    return (prefix + ident + data + suffix).encode("utf-8") + _TERMINATORS[terminator]


class PlainScannerDecoder:
    def __init__(
        self, terminator: str = "ANY", prefix: str = "", suffix: str = "", max_length: int = 512
    ):
        if terminator not in _SPLIT:
            raise ValueError(f"terminator {terminator!r} is not CR, LF, CRLF or ANY")
        if not 1 <= max_length <= MAX_BUFFER:
            raise ValueError(f"max_length {max_length} is not 1..{MAX_BUFFER}")
        self.terminator = terminator
        self.prefix = prefix.encode("utf-8")
        self.suffix = suffix.encode("utf-8")
        self.max_length = max_length
        self._split = _SPLIT[terminator]
        self._stray = _STRAY[terminator]
        self._buf = b""
        self._discarding = False  # inside an over-long line: drop up to the next terminator

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[ScanFrame | Garbled]:
        out: list[ScanFrame | Garbled] = []
        clean = data.translate(None, _NOISE)
        if len(clean) != len(data):
            # only the count matters to the driver: NULs first, then 0xFFs
            noise = b"\x00" * data.count(0) + b"\xff" * data.count(0xFF)
            out.append(Garbled("line noise", noise))
        pieces = self._split.split(self._buf + clean)
        partial = pieces.pop()
        for line in pieces:
            if self._discarding:
                self._discarding = False
                if line:
                    out.append(Garbled("line too long", line))
                continue
            self._line(line, out)
        # in CRLF mode a CR at the very end may be half a terminator: keep it
        keep_cr = self.terminator == "CRLF" and partial.endswith(b"\r")
        body = partial[:-1] if keep_cr else partial
        if self._discarding or len(body) > self.max_length:
            if body:
                out.append(Garbled("line too long", body))
            self._discarding = True
            partial = b"\r" if keep_cr else b""
        self._buf = partial
        return out

    def flush(self) -> list[ScanFrame | Garbled]:
        """Idle timeout: a pending line without its terminator is taken as a scan."""
        out: list[ScanFrame | Garbled] = []
        line, self._buf = self._buf, b""
        if self._discarding:
            self._discarding = False
            if line:
                out.append(Garbled("line too long", line))
            return out
        if self.terminator == "CRLF" and line.endswith(b"\r"):
            line = line[:-1]
        self._line(line, out)
        return out

    def _line(self, line: bytes, out: list[ScanFrame | Garbled]) -> None:
        if self._stray:
            line = line.strip(self._stray)
        if not line:
            return
        if len(line) > self.max_length:
            out.append(Garbled("line too long", line))
            return
        raw, body = line, line
        if self.prefix:
            at = body.find(self.prefix)
            if at < 0:
                out.append(Garbled("no prefix", line))
                return
            if at:
                out.append(Garbled("bytes before prefix", body[:at]))
                raw = body[at:]
            body = body[at + len(self.prefix) :]
        if self.suffix:
            if not body.endswith(self.suffix):
                out.append(Garbled("no suffix", raw))
                return
            body = body[: -len(self.suffix)]
        if _FORBIDDEN.search(body):
            out.append(Garbled("control bytes in line", raw))
            return
        symbology = None
        if _AIM.match(body):
            symbology, body = body[:3].decode("ascii"), body[3:]
        if not body:
            out.append(Garbled("no data", raw))
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            out.append(Garbled("not UTF-8", raw))
            return
        if _C1.search(text):
            out.append(Garbled("C1 control characters in line", raw))
            return
        out.append(
            ScanFrame(
                data=text,
                symbology=symbology,
                barcode_type=None if symbology is None else aim_barcode_type(symbology),
                raw=raw,
            )
        )
