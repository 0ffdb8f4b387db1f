"""Badge line specifics: parity of both halves, both formats, noise and overlong lines."""

from __future__ import annotations

import pytest
from codec_helpers import bytewise, feed_chunks, frames, garbled_bytes

from agent.codecs import wiegand
from agent.codecs.wiegand import BadgeDecoder, BadgeFrame, BadParity


def test_encoder_sets_both_parity_bits():
    assert wiegand.encode_line(26, 123, 4567) == b"26:2F623AE\r\n"
    assert wiegand.encode_line(34, 0x1234, 0x5678) == b"34:22468ACF1\r\n"
    assert BadgeFrame(26, 123, 4567).badge_id == "123-4567"
    with pytest.raises(ValueError):
        wiegand.encode_line(26, 256, 0)


@pytest.mark.parametrize("flip", [0, 1, 12, 13, 24, 25])
def test_any_single_bit_error_fails_a_parity(flip):
    value = wiegand.frame_bits(26, 123, 4567) ^ (1 << flip)
    line = f"26:{value:07X}".encode()
    events = BadgeDecoder().feed(line + b"\r\n")
    assert events[0] == BadParity(line) and not frames(events)


def test_lines_of_the_wrong_shape_are_garbled_not_badges():
    for junk in (b"26:2F623A", b"34:2F623AE", b"27:2F623AE", b"26:2F623AG", b"26:FFFFFFF", b"card 123"):
        events = BadgeDecoder().feed(junk + b"\r\n")
        assert not frames(events) and garbled_bytes(events) == junk


def test_noise_inside_a_line_is_dropped_and_reported():
    events = feed_chunks(BadgeDecoder(), bytewise(b"26:2F6\x0023AE\r\n"))
    assert frames(events) == [BadgeFrame(26, 123, 4567)] and garbled_bytes(events) == b"\x00"


def test_an_overlong_line_is_cut_and_the_next_badge_survives():
    dec = BadgeDecoder()
    events = feed_chunks(dec, bytewise(b"9" * 100 + b"\r\n26:2F623AE\r\n"), bound=2 * wiegand.MAX_LINE - 1)
    assert frames(events) == [BadgeFrame(26, 123, 4567)]
    assert dec.feed(b"26:2F6") == [] and dec.flush()[0].data == b"26:2F6" and dec.buffered == 0
