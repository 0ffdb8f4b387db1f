"""The camera push over h11 (agent/codecs/camera_post.py), sans-I/O: a post read whole, split
and byte by byte, Content-Length or chunked, gives the same body; anything else is refused
with a 4xx and a counter name, never another exception."""

from __future__ import annotations

import json

import pytest
from codec_helpers import bytewise, cut_at
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.codecs.camera_post import MAX_BODY_BYTES, PostReader
from agent.errors import PushRejected

BODY = json.dumps({"text": "CSQU3054383", "confidence": 0.93}).encode()
SIZED = b"POST /read HTTP/1.1\r\nHost: cam\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY), BODY)
CHUNKED = (b"POST /read HTTP/1.1\r\nHost: cam\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BODY[:10], BODY[10:30], BODY[30:]))
           + b"0\r\n\r\n")


def read(chunks: list[bytes]) -> bytes | None:
    reader = PostReader()
    for chunk in chunks:
        body = reader.feed(chunk)
        if body is not None:
            return body
    return None


@pytest.mark.parametrize("request_bytes", [SIZED, CHUNKED], ids=["content-length", "chunked"])
def test_a_post_read_whole_split_or_byte_by_byte_gives_its_body(request_bytes):
    assert read([request_bytes]) == BODY
    assert read(bytewise(request_bytes)) == BODY
    for cut in range(1, len(request_bytes), 7):
        assert read(cut_at(request_bytes, [cut])) == BODY


def test_a_post_cut_short_is_refused_when_the_camera_closes():
    reader = PostReader()
    assert reader.feed(SIZED[:-5]) is None
    with pytest.raises(PushRejected) as no:
        reader.feed(b"")
    assert (no.value.status, no.value.counter) == (400, "bad_request")


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives():
    reader = PostReader()
    reader.feed(b"POST /read HTTP/1.1\r\nHost: cam\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(PushRejected) as no:
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            reader.feed(b"1000\r\n" + b" " * 4096 + b"\r\n")
    assert (no.value.status, no.value.counter) == (413, "too_big")


def test_answers_are_http_with_json_and_close():
    reader = PostReader()
    reader.feed(SIZED)
    answer = reader.answer(200, {"ok": True})
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'\r\n\r\n{"ok": true}')
    assert b"connection: close" in answer.lower()
    garbled = PostReader()
    with pytest.raises(PushRejected):
        garbled.feed(b"\x00\x01 not http\r\n\r\n")
    answer = garbled.answer(400, {"ok": False}, allow=None)  # after a protocol error too
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=6), st.booleans())
def test_whatever_a_peer_sends_is_a_body_a_wait_or_a_4xx(chunks, close):
    reader = PostReader()
    try:
        for chunk in [SIZED[:40], *chunks, *([b""] if close else [])]:
            if reader.feed(chunk) is not None:
                break
    except PushRejected as no:
        assert 400 <= no.status < 500 and no.counter and no.reason


def test_a_camera_waiting_for_100_continue_is_told_to_go_on_once():
    reader = PostReader()
    head = SIZED.split(b"\r\n\r\n", 1)[0] + b"\r\nExpect: 100-continue\r\n\r\n"
    assert reader.feed(head) is None
    assert reader.continue_now() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert reader.continue_now() == b""
    assert reader.feed(BODY) == BODY
