"""Toledo and Yaohua specifics: encoders against the vectors, fields, flags, refusals."""

from __future__ import annotations

import pytest
from codec_specs import TOLEDO_SHORT_VECTORS, TOLEDO_VECTORS, YAOHUA_VECTORS, toledo_bytes

from agent.codecs.base import Garbled
from agent.codecs.toledo import ToledoDecoder, UnitRefused, encode_toledo
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
        encode_toledo(1, unit="oz")
    with pytest.raises(ValueError):
        encode_toledo(1, decimal_code=8)


# Status word C bits 0-2 name the unit when it is neither kg nor lb (frames built by hand:
# SWA 0x2C = count by 1, decimal code 4 (XXXX.XX); SWB 0x30 = gross, stable, kg bit set).
def test_toledo_metric_tons_in_status_word_c_are_tons_not_kg():
    (frame,) = ToledoDecoder().feed(toledo_bytes(b"\x02\x2c\x30\x22002845000000\r"))
    assert (frame.value, frame.unit, frame.stable) == (28.45, "t", True)


def test_toledo_grams_in_status_word_c():
    (frame,) = ToledoDecoder().feed(toledo_bytes(b"\x02\x2a\x30\x21001250000000\r"))
    assert (frame.value, frame.unit) == (1250.0, "g")


def test_toledo_kg_or_lb_when_status_word_c_says_so():
    kg, lb = ToledoDecoder().feed(toledo_bytes(b"\x02\x2a\x30\x20028450000000\r")
                                  + toledo_bytes(b"\x02\x2a\x20\x20032480000000\r"))
    assert (kg.value, kg.unit, lb.value, lb.unit) == (28450.0, "kg", 32480.0, "lb")


@pytest.mark.parametrize("code", [3, 4, 5, 6, 7])
def test_toledo_units_outside_the_contract_are_refused_not_guessed(code):
    raw = toledo_bytes(b"\x02\x2a\x30" + bytes([0x20 | code]) + b"028450000000\r")
    good = toledo_bytes(b"\x02\x2a\x30\x20028450000000\r")
    refused, after = ToledoDecoder().feed(raw + good)
    assert isinstance(refused, UnitRefused) and refused.unit_code == code and refused.raw == raw
    assert "not a unit of the contract" in refused.reason
    assert (after.value, after.unit) == (28450.0, "kg"), "the next frame must decode as usual"


def test_toledo_encoder_writes_the_unit_code_the_decoder_reads():
    for unit, value in (("t", 28.45), ("g", 1250.0), ("kg", 28450.0), ("lb", 32480.0)):
        (frame,) = ToledoDecoder().feed(encode_toledo(value, unit=unit, dp=2 if unit == "t" else 0))
        assert (frame.value, frame.unit) == (value, unit)


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
