"""One description per codec, so the framing tests run the same way over all of them.

Frames for fuzzing are built here with the test's own arithmetic (checksums summed inline),
never by asking the codec under test. The garbage each codec is fuzzed with is chosen so it
cannot hold the start of a frame (see each `garbage` comment): only then is "every embedded
frame comes back" a true property. Fully random input is tested separately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import xor
from typing import Any

from hypothesis import strategies as st

from agent.codecs import ssi
from agent.codecs.base import WeightFrame
from agent.codecs.sam import MAX_LEN as MAX_SAM_LEN
from agent.codecs.sam import SamDecoder, SamFrame
from agent.codecs.scanner_plain import PlainScannerDecoder, ScanFrame
from agent.codecs.ssi import SsiDecoder, SsiPacket
from agent.codecs.toledo import ToledoDecoder
from agent.codecs.wiegand import MAX_LINE as MAX_BADGE_LINE
from agent.codecs.wiegand import BadgeDecoder, BadgeFrame
from agent.codecs.yaohua import YaohuaDecoder


@dataclass
class Spec:
    name: str
    make: Callable[[], Any]
    bound: int  # most bytes the decoder may hold between calls
    vectors: list[tuple[bytes, Any]]  # (wire bytes, the one event they must give)
    garbage: bytes  # fixed garbage that cannot contain a frame start
    corrupt: Callable[[bytes], bytes]  # the same frame with its check broken
    frames: st.SearchStrategy  # (wire bytes, expected event)
    garbage_st: st.SearchStrategy
    conserves: bool  # every byte fed comes back framed, garbled or still buffered


PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))


# --- SSI ---------------------------------------------------------------------------------
def ssi_bytes(*body: int) -> bytes:
    ck = (0x10000 - sum(body)) & 0xFFFF
    return bytes([*body, ck >> 8, ck & 0xFF])


SSI_VECTORS = [
    (bytes.fromhex("04 D0 04 00 FF 28"), SsiPacket(0xD0, 0x04, 0x00, b"")),
    (bytes.fromhex("05 D1 04 00 01 FF 25"), SsiPacket(0xD1, 0x04, 0x00, b"\x01")),
    (bytes.fromhex("09 F3 00 00 03 31 32 33 34 FE 37"), SsiPacket(0xF3, 0x00, 0x00, b"\x031234")),
    # own, summed by hand: 4+0xE9+4 = 241 -> 0xFF0F; 5+0xE6+4+1 = 240 -> 0xFF10;
    # 7+0xF3+1+0x1C+0x41+0x42 = 410 -> 0xFE66 (a retransmitted QR "AB")
    (bytes.fromhex("04 E9 04 00 FF 0F"), SsiPacket(0xE9, 0x04, 0x00, b"")),
    (bytes.fromhex("05 E6 04 00 01 FF 10"), SsiPacket(0xE6, 0x04, 0x00, b"\x01")),
    (bytes.fromhex("07 F3 00 01 1C 41 42 FE 66"), SsiPacket(0xF3, 0x00, 0x01, b"\x1cAB")),
]


@st.composite
def ssi_frames(draw):
    opcode = draw(st.sampled_from(sorted(ssi.KNOWN_OPCODES)))
    source = draw(st.sampled_from([0x00, 0x04]))
    status = draw(st.sampled_from([0x00, 0x01]))
    # printable data and short packets keep the property exact (see the SSI module docstring)
    data = draw(st.text(PRINTABLE, max_size=60)).encode()
    if opcode == ssi.DECODE_DATA:
        data = bytes([draw(st.sampled_from(sorted(ssi.BARCODE_TYPES)))]) + data
    wire = ssi_bytes(4 + len(data), opcode, source, status, *data)
    return wire, SsiPacket(opcode, source, status, data)


def ssi_corrupt(wire: bytes) -> bytes:
    return wire[:-1] + bytes([wire[-1] ^ 0x01])


# Bytes 1..3 are too short to be a length; 0x80.. are long lengths that cannot end inside a
# short packet, and are never a valid source byte, so no candidate starting in garbage can
# complete before the embedded packet does.
SSI_GARBAGE_BYTES = [1, 2, 3, *range(0x80, 0x100)]

SSI = Spec(
    name="ssi",
    make=SsiDecoder,
    bound=256,
    vectors=SSI_VECTORS,
    garbage=bytes([0xF0, 0x99, 0x01, 0xAA, 0x80, 0xFF, 0x03, 0xC3]),
    corrupt=ssi_corrupt,
    frames=ssi_frames(),
    garbage_st=st.lists(st.sampled_from(SSI_GARBAGE_BYTES), max_size=40).map(bytes),
    conserves=True,
)


# --- Toledo ------------------------------------------------------------------------------
def toledo_bytes(body: bytes) -> bytes:
    return body + bytes([(-sum(b & 0x7F for b in body)) & 0x7F])


def wf(value, unit, mode, stable, tare, out_of_range, raw):
    return WeightFrame(value, unit, mode, stable, tare, out_of_range, raw)


_T1 = bytes.fromhex("02 2A 20 20 30 33 32 34 38 30 30 30 30 30 30 30 0D 36")
# own: leading zeros as spaces; 12.5 kg net, negative, in motion, code 3 (XXXXX.X)
_T2 = toledo_bytes(b"\x02\x2a\x20\x20 32480     0\r")
_T3 = toledo_bytes(b"\x02\x2b\x3b\x20000125000050\r")
# own: the vector with bit 7 (parity) set on STX, SWA and CHK
_T4 = bytes([0x82, 0xAA]) + _T1[2:-1] + bytes([0xB6])
TOLEDO_VECTORS = [
    (_T1, wf(32480.0, "lb", "gross", True, 0.0, False, _T1)),
    (_T2, wf(32480.0, "lb", "gross", True, 0.0, False, _T2)),
    (_T3, wf(-12.5, "kg", "net", False, 5.0, False, _T3)),
    (_T4, wf(32480.0, "lb", "gross", True, 0.0, False, _T4)),
]
_S1 = toledo_bytes(b"\x02\x2a\x20\x20032480\r")
_S2 = toledo_bytes(b"\x02\x29\x34\x20   451\r")  # code 1: tens; over range, kg, gross
TOLEDO_SHORT_VECTORS = [
    (_S1, wf(32480.0, "lb", "gross", True, None, False, _S1)),
    (_S2, wf(4510.0, "kg", "gross", True, None, True, _S2)),
]


def _scaled(count: int, code: int) -> float:
    return float(count * 10 ** (2 - code)) if code <= 2 else count / 10 ** (code - 2)


@st.composite
def toledo_frames(draw, short: bool = False):
    code = draw(st.integers(0, 7))
    count, tare = draw(st.integers(0, 999_999)), draw(st.integers(0, 999_999))
    swb = 0x20 | draw(st.integers(0, 0x1F))
    swa = 0x20 | 0x08 | code
    weight = f"{count:06d}".encode()
    body = bytes([0x02, swa, swb, 0x20]) + weight + (b"" if short else f"{tare:06d}".encode())
    wire = bytearray(toledo_bytes(body + b"\r"))
    for i in draw(st.lists(st.integers(0, len(wire) - 1), max_size=4)):
        wire[i] |= 0x80  # parity bit: must be ignored
    value = _scaled(count, code)
    expected = wf(
        -value if swb & 0x02 else value,
        "kg" if swb & 0x10 else "lb",
        "net" if swb & 0x01 else "gross",
        not swb & 0x08,
        None if short else _scaled(tare, code),
        bool(swb & 0x04),
        bytes(wire),
    )
    return bytes(wire), expected


def toledo_corrupt(wire: bytes) -> bytes:
    return wire[:-1] + bytes([(wire[-1] + 1) & 0x7F])


_NO_STX_MASKED = [b for b in range(256) if b & 0x7F != 0x02]

TOLEDO = Spec(
    name="toledo",
    make=ToledoDecoder,
    bound=17,
    vectors=TOLEDO_VECTORS,
    garbage=b"\x00\xff\x30\x31\x0d\x20junk\x03\x0d",
    corrupt=toledo_corrupt,
    frames=toledo_frames(),
    garbage_st=st.lists(st.sampled_from(_NO_STX_MASKED), max_size=40).map(bytes),
    conserves=True,
)
TOLEDO_SHORT = Spec(
    name="toledo_short",
    make=lambda: ToledoDecoder(short=True),
    bound=11,
    vectors=TOLEDO_SHORT_VECTORS,
    garbage=TOLEDO.garbage,
    corrupt=toledo_corrupt,
    frames=toledo_frames(short=True),
    garbage_st=TOLEDO.garbage_st,
    conserves=True,
)


# --- Yaohua ------------------------------------------------------------------------------
def yaohua_bytes(body: bytes) -> bytes:
    return b"\x02" + body + f"{reduce(xor, body, 0):02X}".encode() + b"\x03"


_Y1 = bytes.fromhex("02 2B 30 30 32 30 30 30 32 31 42 03")
# own, XOR by hand: '-' 0x2D ^ digits 012345 (0x01) ^ dp '1' 0x31 = 0x1D
_Y2 = b"\x02-0123451" + b"1D\x03"
_Y3 = b"\x02+00200021b\x03"  # lower-case hex check is accepted
_Y4 = yaohua_bytes(b"+  98760")  # leading zeros as spaces
YAOHUA_VECTORS = [
    (_Y1, wf(20.0, "kg", "gross", None, None, False, _Y1)),
    (_Y2, wf(-1234.5, "kg", "gross", None, None, False, _Y2)),
    (_Y3, wf(20.0, "kg", "gross", None, None, False, _Y3)),
    (_Y4, wf(9876.0, "kg", "gross", None, None, False, _Y4)),
]


@st.composite
def yaohua_frames(draw):
    dp, count = draw(st.integers(0, 4)), draw(st.integers(0, 999_999))
    sign = draw(st.sampled_from(b"+-"))
    wire = yaohua_bytes(bytes([sign]) + f"{count:06d}{dp}".encode())
    value = count / 10**dp
    return wire, wf(-value if sign == 0x2D else value, "kg", "gross", None, None, False, wire)


def yaohua_corrupt(wire: bytes) -> bytes:
    return wire[:3] + bytes([wire[3] ^ 0x01]) + wire[4:]  # one digit off: XOR no longer fits


YAOHUA = Spec(
    name="yaohua",
    make=YaohuaDecoder,
    bound=11,
    vectors=YAOHUA_VECTORS,
    garbage=b"\x00\xff\x30\x31\x03\x03+0\x82",
    corrupt=yaohua_corrupt,
    frames=yaohua_frames(),
    garbage_st=st.lists(st.sampled_from([b for b in range(256) if b != 0x02]), max_size=40).map(
        bytes
    ),
    conserves=True,
)


# --- plain scanner -----------------------------------------------------------------------
def scan(data: str, symbology: str | None, barcode_type: str | None, raw: bytes) -> ScanFrame:
    return ScanFrame(data, symbology, barcode_type, raw)


PLAIN_VECTORS = [
    (b"CSQU3054383\r\n", scan("CSQU3054383", None, None, b"CSQU3054383")),
    (b"]C117612345675\r", scan("17612345675", "]C1", "gs1_128", b"]C117612345675")),
    (
        b"]d2010952\x1d3712\n",
        scan("010952\x1d3712", "]d2", "gs1_datamatrix", b"]d2010952\x1d3712"),
    ),
    (b"]Q1TCNU7200794\r\n", scan("TCNU7200794", "]Q1", "qr", b"]Q1TCNU7200794")),
    (b"]E04006381333931\r\n", scan("4006381333931", "]E0", "ean13", b"]E04006381333931")),
    (b"]A0BAY-07\r\n", scan("BAY-07", "]A0", "code39", b"]A0BAY-07")),
    ("]Q3(00)中\r\n".encode(), scan("(00)中", "]Q3", "gs1_qr", "]Q3(00)中".encode())),
    ("café\r\n".encode(), scan("café", None, None, "café".encode())),  # UTF-8 beyond ASCII
]
AIMS = [None, "]C0", "]C1", "]d1", "]d2", "]Q1", "]Q3", "]E0", "]E4", "]A0"]
AIM_TYPES = {
    "]C0": "code128",
    "]C1": "gs1_128",
    "]d1": "datamatrix",
    "]d2": "gs1_datamatrix",
    "]Q1": "qr",
    "]Q3": "gs1_qr",
    "]E0": "ean13",
    "]E4": "ean8",
    "]A0": "code39",
}


@st.composite
def plain_frames(draw):
    aim = draw(st.sampled_from(AIMS))
    text = draw(st.text(PRINTABLE.replace("]", "") + "\x1déü中", min_size=1, max_size=40))
    term = draw(st.sampled_from([b"\r", b"\n", b"\r\n"]))
    raw = ((aim or "") + text).encode()
    return raw + term, scan(text, aim, AIM_TYPES.get(aim), raw)


PLAIN = Spec(
    name="plain",
    make=lambda: PlainScannerDecoder(max_length=128),
    bound=129,
    vectors=PLAIN_VECTORS,
    # noise bytes vanish; the BEL makes the junk line a non-scan
    garbage=b"\x00\xff\x00junk\x07\r\n\xff",
    corrupt=lambda wire: wire[:1] + b"\x07" + wire[1:],
    frames=plain_frames(),
    garbage_st=st.lists(st.sampled_from([0x00, 0xFF]), max_size=10).map(bytes),
    conserves=False,
)

ALL = [SSI, TOLEDO, TOLEDO_SHORT, YAOHUA, PLAIN]


# --- resident ID card reader (SAM) ---------------------------------------------------------
def sam_bytes(*body: int) -> bytes:
    length = len(body) + 1
    chk = (length >> 8) ^ (length & 0xFF)
    for b in body:
        chk ^= b
    return bytes([0xAA, 0xAA, 0xAA, 0x96, 0x69, length >> 8, length & 0xFF, *body, chk])


SAM_VECTORS = [
    # DOMAIN.md: SAM status, find, select, read; replies card found, no card, selected
    (bytes.fromhex("AA AA AA 96 69 00 03 11 FF ED"), SamFrame(b"\x11\xff")),
    (bytes.fromhex("AA AA AA 96 69 00 03 20 01 22"), SamFrame(b"\x20\x01")),
    (bytes.fromhex("AA AA AA 96 69 00 03 20 02 21"), SamFrame(b"\x20\x02")),
    (bytes.fromhex("AA AA AA 96 69 00 03 30 01 32"), SamFrame(b"\x30\x01")),
    (bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"), SamFrame(bytes.fromhex("00009F00000000"))),
    (bytes.fromhex("AA AA AA 96 69 00 04 00 00 80 84"), SamFrame(bytes.fromhex("000080"))),
    (bytes.fromhex("AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C"),
     SamFrame(bytes.fromhex("0000900000000000000000"))),
]


@st.composite
def sam_frames(draw):
    # no 0xAA in bodies keeps the property exact (see the SAM module's known limit)
    body = draw(st.lists(st.integers(0, 0xA9), min_size=2, max_size=80))
    return sam_bytes(*body), SamFrame(bytes(body))


def sam_corrupt(wire: bytes) -> bytes:
    return wire[:-1] + bytes([wire[-1] ^ 0x01])


SAM = Spec(
    name="sam",
    make=SamDecoder,
    bound=MAX_SAM_LEN + 6,
    vectors=SAM_VECTORS,
    garbage=b"\x00\xff\x96\x69junk\xaa\xaa\x01\xaa\x96",
    corrupt=sam_corrupt,
    frames=sam_frames(),
    # without 0xAA no preamble can start in the garbage
    garbage_st=st.lists(st.sampled_from([b for b in range(256) if b != 0xAA]), max_size=40).map(bytes),
    conserves=True,
)


# --- staff badge (Wiegand raw-frame lines) -----------------------------------------------
def wiegand_line(bits: int, facility: int, card: int) -> bytes:
    """Built with the test's own arithmetic: parity bits counted here, not by the codec."""
    card_w = 16
    data = facility << card_w | card
    half = 12 if bits == 26 else 16
    first, last = data >> half, data & ((1 << half) - 1)
    even = bin(first).count("1") % 2
    odd = 1 - bin(last).count("1") % 2
    digits = 7 if bits == 26 else 9
    return f"{bits}:{even << (bits - 1) | data << 1 | odd:0{digits}X}\r\n".encode()


WIEGAND_VECTORS = [
    # own, by hand: 123 = 0x7B, 4567 = 0x11D7; first 12 bits 0x7B1 have 7 ones -> P=1,
    # last 12 bits 0x1D7 have 7 ones -> P=0: 1<<25 | 0x7B11D7<<1 = 0x2F623AE
    (b"26:2F623AE\r\n", BadgeFrame(26, 123, 4567)),
    (b"26:2020002\n", BadgeFrame(26, 1, 1)),  # first half one 1 -> P=1; last half one 1 -> P=0
    (b"26:1FFFFFF\r", BadgeFrame(26, 255, 65535)),  # 12 ones each: P=0 and P=1
    (b"34:22468ACF1\r\n", BadgeFrame(34, 0x1234, 0x5678)),
    (b"34:22468acf1\r\n", BadgeFrame(34, 0x1234, 0x5678)),  # lower-case hex is accepted
]


@st.composite
def wiegand_frames(draw):
    bits = draw(st.sampled_from([26, 34]))
    facility = draw(st.integers(0, 255 if bits == 26 else 65535))
    card = draw(st.integers(0, 65535))
    return wiegand_line(bits, facility, card), BadgeFrame(bits, facility, card)


def wiegand_corrupt(wire: bytes) -> bytes:
    # flip the last data bit: one parity fails
    i = wire.index(b"\r") - 1 if b"\r" in wire else len(wire) - 2
    digit = int(wire[i : i + 1], 16) ^ 0x2
    return wire[:i] + f"{digit:X}".encode() + wire[i + 1 :]


WIEGAND = Spec(
    name="wiegand",
    make=BadgeDecoder,
    bound=2 * MAX_BADGE_LINE - 1,
    vectors=WIEGAND_VECTORS,
    garbage=b"\x00\xff\x00junk\x07\r\n\xff99:12\r\n",
    corrupt=wiegand_corrupt,
    frames=wiegand_frames(),
    garbage_st=st.lists(st.sampled_from([0x00, 0xFF, 0x1B]), max_size=10).map(bytes),
    conserves=False,
)

ALL += [SAM, WIEGAND]
