"""OCR cameras (licence plates, container numbers) pushing their reads to the lane PC as an
HTTP POST of JSON, the way LPR cameras commonly push:

    POST /read HTTP/1.1            (or POST /)
    Content-Type: application/json
    Content-Length: 87

    {"text": "CSQU3054383", "confidence": 0.93, "image_ref": "cam1/000123.jpg",
     "target": "container", "position": "front"}

`target` and `position` default to the camera's config. A valid read is emitted as a
`CameraRead` and answered 200 only after `emit` returned (so the read is stored before the
camera is told so). Everything else gets a 4xx with a JSON reason and a counter: 400 bad
request line, headers, framing or JSON; 404 unknown path; 405 not POST; 408 too slow; 411
neither Content-Length nor a chunked body; 413 body over 64 kB; 415 not JSON; 422 JSON of
the wrong shape (unknown keys included). 503 when the read could not be stored, and 503
`busy` (with Retry-After) at once, unread, for a connection over the listener's cap.
The post and every answer are part of the contract (agent/contract/camera.py, published as
docs/camera-openapi.yaml).

HTTP is h11's (agent/codecs/camera_post.py): Content-Length or chunked bodies, one request
per connection (`Connection: close`), 8 kB of headers at most, a timeout on the whole
request, at most `max_connections` connections at once.

Never: crash or stop listening on bad input, answer 200 before the read is stored, listen
on anything the config does not name, hold more connections than the cap.
"""

from __future__ import annotations

import asyncio
import json
import logging

from pydantic import ValidationError

from agent.clock import SYSTEM_CLOCK, Clock
from agent.codecs.camera_post import MAX_HEADER_BYTES, PostReader, busy_answer
from agent.config.devices import Camera
from agent.contract.camera import CameraPost
from agent.contract.devices import CameraRead
from agent.devices.base import Driver
from agent.errors import DeviceOffline, PushRejected
from agent.interfaces import DeviceSink

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 5.0
#: connections served at once; more are answered 503 at once (each holds a file descriptor)
MAX_CONNECTIONS = 32
READ_CHUNK = 16 * 1024
#: turned-away connections read and dropped for BUSY_LINGER_S, at most this many at once
BUSY_LINGER_S = 0.5
BUSY_LINGER_MAX = 256


class CameraDriver(Driver[Camera]):
    def __init__(self, config: Camera, sink: DeviceSink, clock: Clock = SYSTEM_CLOCK):
        super().__init__(config, sink, clock)
        self.read_timeout_s = READ_TIMEOUT_S
        self.max_connections = MAX_CONNECTIONS
        self._connections = 0
        self._lingering = 0
        self._handlers: dict[asyncio.Task, asyncio.StreamWriter] = {}
        self._server: asyncio.Server | None = None
        self.port: int | None = None

    async def open(self) -> None:
        host, _, port = self.config.listen.rpartition(":")
        try:
            self._server = await asyncio.start_server(self._connection, host, int(port), limit=MAX_HEADER_BYTES)
        except OSError as err:
            raise DeviceOffline(f"{self.name}: cannot listen on {self.config.listen}: {err}") from err
        self.port = self._server.sockets[0].getsockname()[1]
        await self.set_status("online", "")

    async def serve(self) -> None:
        if self._server is None:
            raise DeviceOffline(f"{self.name}: not open")
        await self._server.serve_forever()

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # end the connections still open by closing their sockets, never by cancelling their
        # handlers (asyncio logs a cancelled connection handler as an error)
        handlers = list(self._handlers.items())
        for _, writer in handlers:
            writer.transport.abort()
        if handlers:
            await asyncio.wait([task for task, _ in handlers], timeout=ANSWER_TIMEOUT_S)
        if server is not None:
            await server.wait_closed()

    # -- one connection, one request ------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = writer
        try:
            await self._serve_one(reader, writer)
        finally:
            del self._handlers[task]

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._connections >= self.max_connections:
            self.count("busy")
            await self._turn_away(reader, writer)
            return
        self._connections += 1
        try:
            self.count("posts")
            post = PostReader()
            try:
                status, answer = 200, await self._handle(reader, writer, post)
            except PushRejected as no:
                self.count(no.counter)
                status, answer = no.status, {"ok": False, "error": no.counter, "reason": no.reason}
                log.info("camera %s: rejected a post (%s): %s", self.name, status, no.reason)
            await self._close(writer, post.answer(status, answer, allow="POST" if status == 405 else None))
        finally:
            self._connections -= 1

    async def _turn_away(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """503 busy at once. A camera that sent its post hears it too: what it sent is read
        and dropped for a moment (closing on unread bytes would reset the answer away), but
        only while few do; under a flood the connection is closed at once."""
        answer = busy_answer(f"over {self.max_connections} connections at once; retry")
        if self._lingering >= BUSY_LINGER_MAX:
            await self._close(writer, answer)
            return
        self._lingering += 1
        try:
            writer.write(answer)
            if writer.can_write_eof():
                writer.write_eof()
            async with asyncio.timeout(BUSY_LINGER_S):
                while await reader.read(READ_CHUNK):
                    pass
        except (ConnectionError, OSError, TimeoutError):
            pass
        finally:
            self._lingering -= 1
            await self._close(writer, b"")

    async def _close(self, writer: asyncio.StreamWriter, answer: bytes) -> None:
        try:
            if answer:
                writer.write(answer)
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                await writer.drain()
        except (ConnectionError, OSError, TimeoutError):
            self.count("connection_errors")  # the camera hung up or stopped reading
        finally:
            writer.close()
            try:
                async with asyncio.timeout(ANSWER_TIMEOUT_S):
                    await writer.wait_closed()
            except (ConnectionError, OSError, TimeoutError):
                pass

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, post: PostReader) -> dict:
        try:
            async with asyncio.timeout(self.read_timeout_s):
                body = None
                while body is None:
                    body = post.feed(await reader.read(READ_CHUNK))
                    if body is None and (go_on := post.continue_now()):
                        writer.write(go_on)
        except TimeoutError:
            raise PushRejected(408, "timeout", f"request not complete within {self.read_timeout_s}s") from None
        except (ConnectionError, OSError):
            raise PushRejected(400, "bad_request", "connection failed before the request was complete") from None
        read = self._to_read(body)
        try:
            await self.emit(read)
        except Exception as err:  # noqa: BLE001 - whatever failed, the camera must hear "not stored"
            log.warning("camera %s: read not stored: %s", self.name, err)
            raise PushRejected(503, "not_stored", f"read not stored: {type(err).__name__}") from err
        self.count("reads")
        return {"ok": True}

    def _to_read(self, body: bytes) -> CameraRead:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise PushRejected(400, "bad_json", f"body is not JSON: {err}") from None
        except RecursionError:
            raise PushRejected(400, "bad_json", "body is not JSON: nested too deep") from None
        try:
            post = CameraPost.model_validate(data)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors())
            raise PushRejected(422, "bad_schema", problems) from None
        return CameraRead(
            device=self.name,
            target=post.target or self.config.target,
            position=post.position or self.config.position,
            text=post.text,
            confidence=post.confidence,
            image_ref=post.image_ref,
        )
