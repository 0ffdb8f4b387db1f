"""The SSI scanner stub on its own, with a FakeClock: the handshake a real scanner runs."""

from __future__ import annotations

from agent.clock import FakeClock
from agent.codecs import ssi
from firmware_stubs.ssi_scanner import SsiScanner

DECODE_1234 = bytes.fromhex("09 F3 00 00 03 31 32 33 34 FE 37")  # DOMAIN.md vector
HOST_ACK = bytes.fromhex("04 D0 04 00 FF 28")
HOST_NAK_RESEND = bytes.fromhex("05 D1 04 00 01 FF 25")


def _packets(raw: bytes) -> list[ssi.SsiPacket]:
    return [p for p in ssi.SsiDecoder().feed(raw) if isinstance(p, ssi.SsiPacket)]


def test_decode_matches_the_vector_and_an_ack_ends_it():
    clock = FakeClock()
    stub = SsiScanner(clock=clock)
    stub.scan("1234", barcode_type="code128")
    assert stub.poll() == DECODE_1234
    stub.receive(HOST_ACK)
    clock.advance(10)
    assert stub.poll() == b""
    assert stub.acked == ["1234"] and stub.idle


def test_no_ack_means_two_retransmits_with_the_bit_then_it_gives_up():
    clock = FakeClock()
    stub = SsiScanner(clock=clock, ack_timeout_s=2.0)
    stub.scan("1234")
    sent = [stub.poll()]
    clock.advance(1.9)
    assert stub.poll() == b""  # still inside the response timeout
    for _ in range(3):
        clock.advance(2.0)
        sent.append(stub.poll())
    packets = [_packets(s) for s in sent]
    assert [len(p) for p in packets] == [1, 1, 1, 0]
    assert [p[0].retransmit for p in packets[:3]] == [False, True, True]
    assert stub.gave_up == ["1234"] and stub.idle


def test_nak_resend_gets_a_resend_and_a_queued_scan_waits_its_turn():
    clock = FakeClock()
    stub = SsiScanner(clock=clock)
    stub.scan("A1")
    stub.scan("B2")
    first = _packets(stub.poll())
    assert [p.data[1:] for p in first] == [b"A1"]  # one decode in flight at a time
    stub.receive(HOST_NAK_RESEND)
    resent = _packets(stub.poll())
    assert resent[0].data[1:] == b"A1" and resent[0].retransmit
    stub.receive(HOST_ACK)
    assert [p.data[1:] for p in _packets(stub.poll())] == [b"B2"]


def test_host_command_is_acked_and_a_bad_host_checksum_is_naked():
    stub = SsiScanner(clock=FakeClock())
    stub.receive(ssi.encode_packet(ssi.BEEP, ssi.SOURCE_HOST, b"\x01"))
    reply = _packets(stub.poll())
    assert [(p.opcode, p.source) for p in reply] == [(ssi.CMD_ACK, ssi.SOURCE_DECODER)]
    broken = bytearray(ssi.encode_packet(ssi.BEEP, ssi.SOURCE_HOST, b"\x01"))
    broken[-1] ^= 0x55
    stub.receive(bytes(broken))
    reply = _packets(stub.poll())
    assert [(p.opcode, p.data) for p in reply] == [(ssi.CMD_NAK, bytes([ssi.RESEND]))]


def test_raw_mode_sends_plain_text():
    stub = SsiScanner(clock=FakeClock(), packet_mode=False)
    stub.scan("1234")
    assert stub.poll() == b"1234\r\n"
