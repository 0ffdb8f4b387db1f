"""SSI specifics: the encoders against the vectors, resync past bogus lengths, NAK material."""

from __future__ import annotations

import pytest
from codec_helpers import bytewise, feed_chunks, frames, garbled_bytes
from codec_specs import ssi_bytes

from agent.codecs import ssi
from agent.codecs.base import Garbled
from agent.codecs.ssi import BadChecksum, SsiDecoder, SsiPacket
from agent.errors import ProtocolError

ACK = bytes.fromhex("04 D0 04 00 FF 28")
NAK_RESEND = bytes.fromhex("05 D1 04 00 01 FF 25")
DECODE_1234 = bytes.fromhex("09 F3 00 00 03 31 32 33 34 FE 37")


def test_encoders_give_the_domain_vectors():
    assert ssi.ack() == ACK
    assert ssi.nak(ssi.RESEND) == NAK_RESEND
    assert ssi.encode_packet(ssi.DECODE_DATA, ssi.SOURCE_DECODER, b"\x031234") == DECODE_1234
    assert ssi.checksum(bytes.fromhex("04 D0 04 00")) == 0xFF28
    assert ssi.encode_packet(ssi.SCAN_ENABLE, ssi.SOURCE_HOST) == bytes.fromhex("04E90400FF0F")


def test_packet_knows_its_wire_bytes_and_retransmit_bit():
    (pkt,) = SsiDecoder().feed(DECODE_1234)
    assert pkt.raw == DECODE_1234 and not pkt.retransmit
    again = ssi.encode_packet(ssi.DECODE_DATA, 0, b"\x031234", status=ssi.STATUS_RETRANSMIT)
    (pkt2,) = SsiDecoder().feed(again)
    assert pkt2.retransmit and ssi.decode_data(pkt2) == ("code128", "1234")


def test_a_length_that_leads_nowhere_does_not_hold_back_the_packet_behind_it():
    # 0xF0 claims a 242-byte packet from source 0x00: a plausible start that never completes.
    bogus = bytes([0xF0, 0xF3, 0x00, 0x00])
    dec = SsiDecoder()
    events = feed_chunks(dec, bytewise(bogus + DECODE_1234[:-1]))
    assert frames(events) == []
    last = dec.feed(DECODE_1234[-1:])  # the packet must come out on its own last byte
    assert frames(last) == [SsiPacket(0xF3, 0, 0, b"\x031234")]
    assert garbled_bytes(events + last) == bogus
    assert dec.buffered == 0


def test_bad_checksum_is_reported_once_and_the_retransmission_is_taken():
    bad = DECODE_1234[:-1] + b"\x38"
    resent = ssi.encode_packet(ssi.DECODE_DATA, 0, b"\x031234", status=1)
    for chunks in ([bad + resent], bytewise(bad + resent)):
        events = feed_chunks(SsiDecoder(), chunks)
        assert [e for e in events if isinstance(e, BadChecksum)] == [BadChecksum(bad)]
        assert [p.retransmit for p in frames(events)] == [True]
        assert garbled_bytes(events) == bad


def test_garbage_with_an_unknown_opcode_is_not_a_bad_checksum():
    junk = bytes([0x05, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34])  # source 0, opcode 0x00
    events = SsiDecoder().feed(junk + ACK)
    assert not any(isinstance(e, BadChecksum) for e in events)
    assert frames(events) == [SsiPacket(0xD0, 4, 0, b"")]


def test_a_packet_with_a_bad_source_byte_is_not_a_packet():
    wrong_src = ssi_bytes(4, 0xD0, 0x02, 0x00)
    events = SsiDecoder().feed(wrong_src + ACK)
    assert frames(events) == [SsiPacket(0xD0, 4, 0, b"")]


def test_max_packet_caps_the_buffer_and_the_packets():
    dec = SsiDecoder(max_packet=20)
    long_one = ssi.encode_packet(ssi.DECODE_DATA, 0, b"\x03" + b"9" * 30)
    events = feed_chunks(dec, bytewise(long_one + ACK), bound=19)
    assert frames(events) == [SsiPacket(0xD0, 4, 0, b"")]
    with pytest.raises(ValueError):
        SsiDecoder(max_packet=300)


def test_flush_drops_an_incomplete_packet_as_garbled():
    dec = SsiDecoder()
    assert dec.feed(DECODE_1234[:5]) == []
    assert dec.flush() == [Garbled("incomplete packet", DECODE_1234[:5])]
    assert dec.buffered == 0 and dec.feed(DECODE_1234)[0].data == b"\x031234"


def test_decode_data_names_types_and_falls_back_to_latin1():
    assert ssi.decode_data(SsiPacket(0xF3, 0, 0, b"\xc1010952\x1d3712")) == (
        "gs1_datamatrix",
        "010952\x1d3712",
    )
    assert ssi.decode_data(SsiPacket(0xF3, 0, 0, b"\x7fcaf\xe9")) == ("ssi_0x7f", "café")
    with pytest.raises(ProtocolError):
        ssi.decode_data(SsiPacket(0xD0, 4, 0, b""))
    with pytest.raises(ProtocolError):
        ssi.decode_data(SsiPacket(0xF3, 0, 0, b""))


def test_encode_refuses_what_does_not_fit_one_packet():
    with pytest.raises(ValueError):
        ssi.encode_packet(ssi.DECODE_DATA, 0, b"x" * 252)
    assert len(ssi.encode_packet(ssi.DECODE_DATA, 0, b"x" * 251)) == 257
