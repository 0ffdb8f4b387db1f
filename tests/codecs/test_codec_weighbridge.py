"""Toledo and Yaohua specifics: encoders against the vectors, fields, flags, refusals."""

from __future__ import annotations

import pytest
from codec_specs import TOLEDO_SHORT_VECTORS, TOLEDO_VECTORS, YAOHUA_VECTORS, toledo_bytes

from agent.codecs.base import Garbled
from agent.codecs.toledo import ToledoDecoder, encode_toledo
from agent.codecs.yaohua import YaohuaDecoder, encode_yaohua


def test_toledo_encoder_gives_the_vectors():
    assert encode_toledo(32480) == TOLEDO_VECTORS[0][0]
    assert encode_toledo(32480, decimal_code=2) == TOLEDO_VECTORS[0][0]
    assert encode_toledo(32480, blank_zeros=True) == TOLEDO_VECTORS[1][0]
    assert (
        encode_toledo(12.5, unit="kg", net=True, negative=True, motion=True, dp=1, tare=5)
        == TOLEDO_VECTORS[2][0]
    )
    assert encode_toledo(32480, short=True) == TOLEDO_SHORT_VECTORS[0][0]


def test_toledo_encoder_refuses_what_no_indicator_sends():
    with pytest.raises(ValueError):
        encode_toledo(1_000_000)
    with pytest.raises(ValueError):
        encode_toledo(1, unit="t")
    with pytest.raises(ValueError):
        encode_toledo(1, decimal_code=8)


def test_toledo_counts_by_hundreds_with_code_0():
    (frame,) = ToledoDecoder().feed(encode_toledo(32400, decimal_code=0))
    assert frame.value == 32400.0 and frame.raw[4:10] == b"000324"


def test_toledo_does_not_validate_the_fixed_bits():
    # SWB with bit 5 clear and bit 6 set: some vendors send it so
    (frame,) = ToledoDecoder().feed(toledo_bytes(b"\x02\x2a\x40\x20032480000000\r"))
    assert (frame.value, frame.stable) == (32480.0, True)


def test_toledo_spaces_inside_the_digits_are_garbled():
    bad = toledo_bytes(b"\x02\x2a\x20\x20 3 480000000\r")
    events = ToledoDecoder().feed(bad)
    assert events == [Garbled("weight field is not digits", bad)]


def test_toledo_long_decoder_does_not_take_short_frames():
    events = ToledoDecoder().feed(TOLEDO_SHORT_VECTORS[0][0] * 3)
    assert all(isinstance(e, Garbled) for e in events)


def test_toledo_flush_drops_a_half_frame():
    dec = ToledoDecoder()
    assert dec.feed(TOLEDO_VECTORS[0][0][:9]) == []
    assert dec.flush() == [Garbled("incomplete frame", TOLEDO_VECTORS[0][0][:9])]


def test_yaohua_encoder_gives_the_vectors():
    assert encode_yaohua(20.0, dp=2) == YAOHUA_VECTORS[0][0]
    assert encode_yaohua(-1234.5, dp=1) == YAOHUA_VECTORS[1][0]
    assert encode_yaohua(20.0, 2, unit="t") == YAOHUA_VECTORS[0][0]  # unit is not on the wire


def test_yaohua_encoder_refuses_impossible_weights():
    with pytest.raises(ValueError):
        encode_yaohua(1.0, dp=5)
    with pytest.raises(ValueError):
        encode_yaohua(100_000.0, dp=1)


def test_yaohua_unit_comes_from_config_and_the_dp_digit_places_the_point():
    frames = YaohuaDecoder(unit="t").feed(encode_yaohua(20.0, dp=2) + encode_yaohua(7.5, dp=3))
    assert [(f.value, f.unit, f.raw[8:9]) for f in frames] == [(20.0, "t", b"2"), (7.5, "t", b"3")]


def test_yaohua_bad_sign_or_dp_is_garbled_even_with_a_good_check():
    from codec_specs import yaohua_bytes

    for body in (b"*0020002", b"+0020009"):
        wire = yaohua_bytes(body)
        assert YaohuaDecoder().feed(wire) == [Garbled("bad sign or decimal point", wire)]
