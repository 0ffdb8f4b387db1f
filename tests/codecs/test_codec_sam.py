"""SAM specifics: DOMAIN.md's card vector byte-exact, the text block's fields, long-term
cards, status bytes, bad checksums reported once, a bogus length that leads nowhere."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from codec_helpers import bytewise, feed_chunks, frames, garbled_bytes
from codec_specs import sam_bytes

from agent.codecs import sam
from agent.codecs.base import Garbled
from agent.codecs.sam import BadChecksum, SamDecoder, SamFrame
from agent.errors import ProtocolError

ZHANG_SAN = dict(name="张三", gender="1", ethnic_group="01", birth_date="19491231",
                 address="北京市朝阳区示例路1号", id_number="11010519491231002X",
                 authority="北京市公安局朝阳分局", valid_from="20150101", valid_until="20350101")
CARD_SHA256 = "5cdbec5511be535230c720a860090785eb014acff296f531401957d4abf76072"


def card_frame(**changes: str) -> bytes:
    return sam.read_reply(sam.encode_text(ZHANG_SAN | changes), bytes(1024))


def test_encoders_give_the_domain_vectors():
    assert sam.command(sam.SAM_STATUS) == bytes.fromhex("AA AA AA 96 69 00 03 11 FF ED")
    assert sam.command(sam.FIND_CARD) == bytes.fromhex("AA AA AA 96 69 00 03 20 01 22")
    assert sam.command(sam.SELECT_CARD) == bytes.fromhex("AA AA AA 96 69 00 03 20 02 21")
    assert sam.command(sam.READ_TEXT_PHOTO) == bytes.fromhex("AA AA AA 96 69 00 03 30 01 32")
    assert sam.reply(sam.CARD_FOUND, bytes(4)) == bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    assert sam.reply(sam.NO_CARD) == bytes.fromhex("AA AA AA 96 69 00 04 00 00 80 84")
    assert sam.reply(sam.SUCCESS, bytes(8)) == bytes.fromhex("AA AA AA 96 69 00 0C 00 00 90" + "00" * 8 + "9C")


def test_the_card_vector_is_byte_exact():
    wire = card_frame()
    assert len(wire) == 1295 and wire[5:7] == bytes.fromhex("05 08")
    assert wire[7:14] == bytes.fromhex("00 00 90 01 00 04 00")
    assert wire[-1] == 0x5E and hashlib.sha256(wire).hexdigest() == CARD_SHA256
    assert card_frame(valid_until="长期")[-1] == 0xC8


def test_the_card_decodes_whole_and_byte_by_byte():
    wire = card_frame()
    for chunks in ([wire], bytewise(wire)):
        (frame,) = frames(feed_chunks(SamDecoder(), chunks, bound=sam.MAX_LEN + 6))
        card = sam.parse_card(frame)
        assert card.photo == bytes(1024)
        t = card.text
        assert (t.name, t.gender, t.ethnic_group, t.birth_date) == ("张三", "1", "01", "19491231")
        assert (t.address, t.id_number, t.authority) == ("北京市朝阳区示例路1号", "11010519491231002X", "北京市公安局朝阳分局")
        assert t.validity() == (date(2015, 1, 1), date(2035, 1, 1)) and not t.long_term


def test_a_long_term_card_has_no_end_date():
    (frame,) = SamDecoder().feed(card_frame(valid_until="长期"))
    text = sam.parse_card(frame).text
    assert text.long_term and text.validity() == (date(2015, 1, 1), None)


def test_the_clear_number_and_name_never_show_in_a_repr():
    (frame,) = SamDecoder().feed(card_frame())
    shown = repr(sam.parse_card(frame))
    assert "11010519491231002X" not in shown and "张三" not in shown and "110105********002X" in shown


def test_status_bytes_and_replies_that_are_not_a_card():
    assert SamDecoder().feed(sam.reply(sam.NO_CARD))[0].status == sam.NO_CARD
    for status in (sam.NO_CARD, sam.SELECT_FAILED, sam.READ_FAILED, 0x33):
        with pytest.raises(ProtocolError):
            sam.parse_card(SamFrame(bytes([0, 0, status])))
    short = sam.reply(sam.SUCCESS, bytes.fromhex("0100 0400") + bytes(100))
    with pytest.raises(ProtocolError, match="lengths"):
        sam.parse_card(SamDecoder().feed(short)[0])
    bad_date = sam.parse_card(SamDecoder().feed(card_frame(valid_from="2015XX01"))[0]).text
    with pytest.raises(ProtocolError, match="date"):
        bad_date.validity()


def test_bad_checksum_is_reported_once_and_the_frame_behind_survives():
    good = sam.reply(sam.NO_CARD)
    bad = good[:-1] + b"\x00"
    for chunks in ([bad + good], bytewise(bad + good)):
        events = feed_chunks(SamDecoder(), chunks)
        assert [e for e in events if isinstance(e, BadChecksum)] == [BadChecksum(bad)]
        assert frames(events) == [SamFrame(b"\x00\x00\x80")]
        assert garbled_bytes(events) == bad


def test_a_length_that_leads_nowhere_does_not_hold_back_the_frame_behind_it():
    bogus = bytes.fromhex("AA AA AA 96 69 0F 00 00 00")  # claims 3,840 bytes
    good = sam_bytes(0x00, 0x00, 0x9F, 0, 0, 0, 0)
    dec = SamDecoder()
    events = feed_chunks(dec, bytewise(bogus + good[:-1]))
    assert frames(events) == []
    last = dec.feed(good[-1:])
    assert frames(last) == [SamFrame(bytes.fromhex("00009F00000000"))]
    assert garbled_bytes(events + last) == bogus and dec.buffered == 0


def test_max_len_caps_the_buffer_and_the_frames():
    dec = SamDecoder(max_len=64)
    big = sam.reply(sam.SUCCESS, bytes(100))
    events = feed_chunks(dec, bytewise(big + sam.reply(sam.NO_CARD)), bound=70)
    assert frames(events) == [SamFrame(b"\x00\x00\x80")]
    with pytest.raises(ValueError):
        SamDecoder(max_len=2)


def test_flush_drops_an_incomplete_frame_as_garbled():
    wire = card_frame()
    dec = SamDecoder()
    assert dec.feed(wire[:700]) == []  # the card pulled mid-read: the reply stops short
    assert dec.flush() == [Garbled("incomplete frame", wire[:700])]
    assert dec.buffered == 0 and frames(dec.feed(wire))
