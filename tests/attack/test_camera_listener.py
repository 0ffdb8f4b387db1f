"""Finding (bounds): the camera listener had no connection cap (1,500 idle connections hit the
open-file limit and a valid post timed out), and a 5,000-digit Content-Length or 64 kB of
nested JSON escaped the handler (no answer, not counted). Now every hostile request gets a 4xx
and a counter, connections over the cap get 503 `busy` at once, and the listener carries on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.devices.test_camera import GOOD, Sink, post, raw, started, stopped

HOSTILE = [
    ("bad_request", b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n{}"),
    ("bad_json", post(b"[" * 60000 + b"]" * 5000)),
    ("bad_json", post(b'{"text": ' * 7000 + b"1")),
    ("bad_request", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\xfe\x00\r\n\r\n"),  # TLS to plain HTTP
    ("bad_request", b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("headers_too_big", b"POST /read HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n"),
]


@pytest.mark.parametrize("counter,request_bytes", HOSTILE, ids=[f"{c}-{i}" for i, (c, _) in enumerate(HOSTILE)])
def test_a_hostile_request_is_answered_4xx_and_counted(counter, request_bytes, caplog):
    async def main():
        sink = Sink()
        driver = await started(sink)
        try:
            status, answer = await asyncio.wait_for(raw(driver.port, request_bytes), 10)
            assert 400 <= status < 500 and answer["error"] == counter, answer
            assert driver.counters[counter] == 1 and sink.reads == []
            assert (await raw(driver.port, post(GOOD)))[0] == 200
        finally:
            await stopped(driver)

    asyncio.run(main())
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_idle_connections_over_the_cap_are_turned_away_and_a_camera_gets_through_after(caplog):
    async def main():
        sink = Sink()
        driver = await started(sink)
        driver.max_connections, driver.read_timeout_s = 8, 1.0
        idle = []
        try:
            for _ in range(60):  # a peer opening connections and sending nothing
                idle.append(await asyncio.open_connection("127.0.0.1", driver.port))
            # the 52 over the cap are answered at once, unread: 503 busy, and closed
            turned_away = 0
            for reader, _ in idle[8:]:
                answer = await asyncio.wait_for(reader.read(), 5)
                assert answer.startswith(b"HTTP/1.1 503 ") and b'"busy"' in answer
                turned_away += 1
            assert turned_away == 52 and driver.counters["busy"] == 52
            # a camera posting while the cap is full hears "busy" at once, not a hang
            status, answer = await asyncio.wait_for(raw(driver.port, post(GOOD)), 5)
            assert (status, answer["error"]) == (503, "busy")
            # the idle ones time out (408), and the camera's retry goes through
            for reader, _ in idle[:8]:
                assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 408 ")
            assert (await raw(driver.port, post(GOOD)))[0] == 200 and len(sink.reads) == 1
        finally:
            for _, writer in idle:
                writer.close()
            await stopped(driver)

    asyncio.run(main())
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
