"""OCR cameras: the agent's HTTP listener and the camera stub that posts to it, over real
loopback sockets. Valid posts become CameraRead events answered after they are stored; every
kind of malformed post gets its 4xx, its reason and its counter, and the listener carries on."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from agent.config.devices import Camera
from agent.contract.devices import CameraRead
from agent.devices.camera import CameraDriver
from agent.errors import DeviceOffline
from firmware_stubs.ocr_camera import OcrCamera


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.reads: list[CameraRead] = []
        self.fail = fail
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def emit(self, device: str, event: object) -> None:
        if not isinstance(event, CameraRead):
            return
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise OSError("disk full")
        self.reads.append(event)


async def started(sink: Sink, **kw) -> CameraDriver:
    kw.setdefault("target", "container")
    kw.setdefault("position", "front")
    driver = CameraDriver(Camera(kind="camera", name="cam-front", listen="127.0.0.1:0", **kw), sink)
    await driver.open()
    driver.task = asyncio.create_task(driver.serve())
    return driver


async def stopped(driver: CameraDriver) -> None:
    await driver.close()
    try:
        await driver.task
    except asyncio.CancelledError:
        pass


async def raw(port: int, data: bytes, *, then_wait: bool = True) -> tuple[int, dict]:
    """Send bytes as they are; return the status and JSON answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def post(body: bytes, headers: str = "Content-Type: application/json\r\n", path: str = "/read") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


GOOD = json.dumps({"text": "CSQU3054383", "confidence": 0.93, "image_ref": "cam1/000001.jpg"}).encode()


def test_a_valid_post_becomes_a_camera_read_answered_after_it_is_stored():
    async def main():
        sink = Sink()
        driver = await started(sink)
        try:
            sink.gate = asyncio.Event()
            answer = asyncio.create_task(raw(driver.port, post(GOOD)))
            await asyncio.wait_for(sink.entered.wait(), 5)
            await asyncio.sleep(0.05)
            assert not answer.done()  # no 200 while the read is not stored yet
            sink.gate.set()
            assert await answer == (200, {"ok": True})
            assert sink.reads == [CameraRead(device="cam-front", target="container", text="CSQU3054383",
                                             confidence=0.93, position="front", image_ref="cam1/000001.jpg")]
            # the post may say what it read and from where; "/" works as well as "/read"
            body = json.dumps({"text": "粤B12345", "confidence": 1, "target": "plate", "position": "rear"})
            assert (await raw(driver.port, post(body.encode(), path="/")))[0] == 200
            assert sink.reads[-1].target == "plate" and sink.reads[-1].position == "rear"
            assert sink.reads[-1].text == "粤B12345"
            assert driver.counters["reads"] == 2
        finally:
            await stopped(driver)

    asyncio.run(main())


def test_a_chunked_post_is_read_like_any_other():
    """Real plate cameras send chunked bodies; h11 reads them."""
    async def main():
        sink = Sink()
        driver = await started(sink)
        try:
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(GOOD[i:i + 9]), GOOD[i:i + 9]) for i in range(0, len(GOOD), 9))
            request = (b"POST /read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
            assert await raw(driver.port, request) == (200, {"ok": True})
            assert [r.text for r in sink.reads] == ["CSQU3054383"] and driver.counters["reads"] == 1
        finally:
            await stopped(driver)

    asyncio.run(main())


def test_a_camera_that_waits_for_100_continue_is_told_to_go_on():
    async def main():
        sink = Sink()
        driver = await started(sink)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
            writer.write(b"POST /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(GOOD))
            assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(GOOD)
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            await writer.wait_closed()
            assert answer.startswith(b"HTTP/1.1 200 ") and len(sink.reads) == 1
        finally:
            await stopped(driver)

    asyncio.run(main())


def test_a_read_that_cannot_be_stored_is_not_acknowledged():
    async def main():
        sink = Sink(fail=True)
        driver = await started(sink)
        try:
            status, answer = await raw(driver.port, post(GOOD))
            assert status == 503 and answer["error"] == "not_stored"
            assert driver.counters["not_stored"] == 1 and driver.counters["reads"] == 0
        finally:
            await stopped(driver)

    asyncio.run(main())


BAD = [
    ("bad_json", 400, post(b'{"text": "CSQU3054383", "confidence": ')),
    ("bad_json", 400, post(b"\xff\xfe not utf-8")),
    ("bad_schema", 422, post(b'{"text": "CSQU3054383"}')),
    ("bad_schema", 422, post(b'{"text": "CSQU3054383", "confidence": 1.5}')),
    ("bad_schema", 422, post(b'{"text": "CSQU3054383", "confidence": "0.9"}')),
    ("bad_schema", 422, post(b'{"text": "", "confidence": 0.9}')),
    ("bad_schema", 422, post(b'{"text": "X", "confidence": 0.9, "colour": "red"}')),
    ("bad_schema", 422, post(b'["CSQU3054383", 0.9]')),
    ("bad_schema", 422, post(b'{"text": "X", "confidence": 0.9, "target": "truck"}')),
    ("bad_method", 405, b"GET /read HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("bad_method", 405, b"PUT /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"),
    ("bad_path", 404, post(GOOD, path="/admin")),
    ("no_length", 411, b"POST /read HTTP/1.1\r\nHost: x\r\n\r\n" + GOOD),
    ("bad_request", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("bad_json", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("bad_request", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    ("too_big", 413, b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + b"".join(b"4000\r\n" + b" " * 0x4000 + b"\r\n" for _ in range(5))),
    ("too_big", 413, b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n"),
    ("not_json", 415, post(GOOD, headers="Content-Type: image/jpeg\r\n")),
    ("bad_request", 400, b"POST /read\r\n\r\n"),
    ("bad_request", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
    ("bad_request", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
    ("bad_request", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}"),
    ("bad_request", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{}"),
    ("headers_too_big", 400, b"POST /read HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"),
]


@pytest.mark.parametrize("counter,status,request_bytes", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_a_malformed_post_gets_its_4xx_a_reason_and_a_counter(counter, status, request_bytes):
    async def main():
        sink = Sink()
        driver = await started(sink)
        try:
            if counter == "bad_request" and request_bytes.endswith(b"\r\n\r\n{}") and b": 50" in request_bytes:
                got = await raw_then_close(driver.port, request_bytes)  # body cut short
            else:
                got = await raw(driver.port, request_bytes)
            assert got[0] == status
            assert got[1]["ok"] is False and got[1]["error"] == counter and got[1]["reason"]
            assert driver.counters[counter] == 1 and sink.reads == []
            # the listener carries on
            assert (await raw(driver.port, post(GOOD)))[0] == 200
        finally:
            await stopped(driver)

    asyncio.run(main())


async def raw_then_close(port: int, data: bytes) -> tuple[int, dict]:
    """Send, then half-close: the body the headers promised never comes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        writer.write_eof()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def test_a_camera_too_slow_to_finish_its_post_gets_408():
    async def main():
        driver = await started(Sink())
        driver.read_timeout_s = 0.2
        try:
            status, answer = await raw(driver.port, b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{")
            assert status == 408 and driver.counters["timeout"] == 1
        finally:
            await stopped(driver)

    asyncio.run(main())


def test_a_camera_port_in_use_is_offline():
    async def main():
        first = await started(Sink())
        try:
            second = CameraDriver(Camera(kind="camera", name="cam2", listen=f"127.0.0.1:{first.port}"), Sink())
            with pytest.raises(DeviceOffline):
                await second.open()
        finally:
            await stopped(first)

    asyncio.run(main())


def test_the_camera_stub_posts_reads_and_misreads_through_the_listener():
    async def main():
        sink = Sink()
        driver = await started(sink, target="plate")
        try:
            camera = OcrCamera(f"http://127.0.0.1:{driver.port}/read", name="lane1-front", rng=random.Random(11),
                               misread_rate=0.5)
            pushed = []
            for truth in ["TCNU7200794", "TOLU4734787", "GYOU4047990", "CSQU3054383"] * 3:
                read, status, answer = await asyncio.to_thread(camera.push, truth, target="container", position="rear")
                assert (status, answer) == (200, {"ok": True})
                pushed.append(read)
            assert [r.text for r in sink.reads] == [p.text for p in pushed]
            assert [r.confidence for r in sink.reads] == [p.confidence for p in pushed]
            assert all(r.target == "container" and r.position == "rear" for r in sink.reads)
            assert any(p.misread for p in pushed) and not all(p.misread for p in pushed)
            # the stub's fault path: a GET is refused and counted
            status, answer = await asyncio.to_thread(camera.post, {"text": "X", "confidence": 1}, method="GET")
            assert status == 405 and driver.counters["bad_method"] == 1
        finally:
            await stopped(driver)

    asyncio.run(main())


def test_the_misread_rate_behaves_with_a_seed():
    def reads(seed: int, rate: float, n: int = 4000):
        camera = OcrCamera("http://127.0.0.1:9/read", rng=random.Random(seed), misread_rate=rate)
        return [camera.read("TCNU7200794", target="container") for _ in range(n)]

    a = reads(42, 0.1)
    assert a == reads(42, 0.1)  # same seed, same reads
    assert [r.text for r in a] != [r.text for r in reads(43, 0.1)]
    share = sum(r.misread for r in a) / len(a)
    assert 0.085 <= share <= 0.115
    for r in a:
        if r.misread:
            assert r.text != "TCNU7200794" and len(r.text) in (10, 11) and 0.40 <= r.confidence <= 0.75
        else:
            assert r.text == "TCNU7200794" and r.confidence >= 0.88
    assert not any(r.misread for r in reads(1, 0.0, 500))
    assert all(r.misread for r in reads(1, 1.0, 500))
    with pytest.raises(ValueError):
        OcrCamera("http://10.0.0.5/read")  # loopback only
