"""Plain-mode scanner specifics: terminators, prefix/suffix, over-long lines, idle flush."""

from __future__ import annotations

import pytest
from codec_helpers import bytewise, cut_at, feed_chunks, frames, is_subsequence
from codec_specs import plain_frames
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.codecs.base import Garbled
from agent.codecs.scanner_plain import PlainScannerDecoder, ScanFrame, encode_plain


def datas(events) -> list[str]:
    return [f.data for f in frames(events)]


def test_encode_plain_gives_hand_written_bytes():
    assert encode_plain("1234") == b"1234\r\n"
    assert encode_plain("1234", terminator="CR", aim="]C0") == b"]C01234\r"
    assert encode_plain("01\x1d37", terminator="LF", aim="d2") == b"]d201\x1d37\n"
    assert encode_plain("x", prefix="\x02", suffix="\x03") == b"\x02x\x03\r\n"
    with pytest.raises(ValueError):
        encode_plain("x", terminator="ANY")


@pytest.mark.parametrize(
    ("terminator", "stream", "expected"),
    [
        ("CR", b"AB\r\nCD\r\n", ["AB", "CD"]),  # stray LF from a CRLF scanner is dropped
        ("LF", b"AB\r\nCD\n", ["AB", "CD"]),
        ("CRLF", b"AB\r\nCD\r\n", ["AB", "CD"]),
        ("CRLF", b"A\rB\r\nCD\r\n", ["CD"]),  # a lone CR inside a CRLF line is not a scan
        ("ANY", b"AB\rCD\nEF\r\n\r\nGH\n\r", ["AB", "CD", "EF", "GH"]),
    ],
)
def test_terminators(terminator, stream, expected):
    for chunks in ([stream], bytewise(stream)):
        assert datas(feed_chunks(PlainScannerDecoder(terminator), chunks)) == expected


def test_prefix_and_suffix_are_stripped_and_bytes_before_the_prefix_are_garbled():
    dec = PlainScannerDecoder("CR", prefix="\x02", suffix="\x03")
    events = dec.feed(b"zz\x02]C1ABC\x03\r\x02DEF\r")
    assert frames(events) == [ScanFrame("ABC", "]C1", "gs1_128", b"\x02]C1ABC\x03")]
    assert [e.reason for e in events if isinstance(e, Garbled)] == [
        "bytes before prefix",
        "no suffix",
    ]
    assert dec.feed(b"GHI\x03\r") == [Garbled("no prefix", b"GHI\x03")]


def test_an_overlong_line_is_garbled_and_its_tail_is_never_a_scan():
    stream = b"X" * 40 + b"\r\nOK\r\n"
    for chunks in ([stream], bytewise(stream), [stream[:25], stream[25:]]):
        dec = PlainScannerDecoder(max_length=16)
        events = feed_chunks(dec, chunks, bound=17)
        assert datas(events) == ["OK"]
        assert sum(len(e.data) for e in events if isinstance(e, Garbled)) == 40


def test_a_line_of_exactly_max_length_is_a_scan():
    assert datas(PlainScannerDecoder(max_length=4).feed(b"ABCD\rABCDE\r")) == ["ABCD"]


def test_flush_turns_a_pending_line_into_a_scan_but_not_an_overlong_one():
    dec = PlainScannerDecoder()
    assert dec.feed(b"]E4123") == []
    assert dec.flush() == [ScanFrame("123", "]E4", "ean8", b"]E4123")]
    assert dec.flush() == []
    dec = PlainScannerDecoder(max_length=4)
    dec.feed(b"ABCDEFG")
    assert frames(dec.flush()) == [] and dec.buffered == 0
    assert datas(dec.feed(b"OK\r")) == ["OK"]


def test_aim_edge_cases():
    events = PlainScannerDecoder().feed(b"]C1\r]X0abc\r]9x\r")
    assert [e.reason for e in events if isinstance(e, Garbled)] == ["no data"]
    assert frames(events) == [
        ScanFrame("abc", "]X0", None, b"]X0abc"),
        ScanFrame("]9x", None, None, b"]9x"),
    ]


def test_line_noise_inside_a_scan_is_removed_and_counted():
    events = PlainScannerDecoder().feed(b"CS\x00QU30\xff54383\r\n")
    assert datas(events) == ["CSQU3054383"]
    assert events[0] == Garbled("line noise", b"\x00\xff")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    scans=st.lists(plain_frames(), max_size=6),
    noise_at=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from([b"\x00", b"\xff"])), max_size=8
    ),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_noise_anywhere_even_inside_scans_loses_nothing(scans, noise_at, cuts):
    stream = bytearray(b"".join(wire for wire, _ in scans))
    for pos, byte in noise_at:
        stream[pos % (len(stream) + 1) : pos % (len(stream) + 1)] = byte
    expected = [scan for _, scan in scans]
    assert (
        frames(
            feed_chunks(PlainScannerDecoder(max_length=128), cut_at(bytes(stream), cuts), bound=129)
        )
        == expected
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    parts=st.lists(st.tuples(st.binary(max_size=200), plain_frames()), max_size=5),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_scans_after_any_garbage_line_come_back(parts, cuts):
    # arbitrary garbage may itself read as a scan, but it is cut off by a terminator, so
    # every real scan must still be there, in order
    stream = b"".join(junk + b"\r\n" + wire for junk, (wire, _) in parts)
    expected = [scan for _, (_, scan) in parts]
    got = frames(feed_chunks(PlainScannerDecoder(max_length=128), cut_at(stream, cuts), 129))
    assert is_subsequence(expected, got)


@pytest.mark.parametrize("line,reason", [
    (b"caf\xe9", "not UTF-8"),  # a single-byte code page, or a wrong baud rate
    (b"\xc3\x28junk", "not UTF-8"),
    (b"TCNU\xc2\x857200794", "C1 control characters in line"),  # U+0085 (NEL)
    (b"\xc2\x9bJUNK", "C1 control characters in line"),  # U+009B (CSI)
])
def test_undecodable_bytes_and_c1_controls_are_garbled_never_a_scan(line, reason):
    decoder = PlainScannerDecoder()
    events = decoder.feed(line + b"\r\nTCNU7200794\r\n")
    assert [e.reason for e in events if isinstance(e, Garbled)] == [reason]
    assert [e.data for e in events if isinstance(e, ScanFrame)] == ["TCNU7200794"]
