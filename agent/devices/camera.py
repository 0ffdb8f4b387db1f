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
request line, headers or JSON; 404 unknown path; 405 not POST; 408 too slow; 411 no
Content-Length (chunked bodies are not accepted); 413 body over 64 kB; 415 not JSON;
422 JSON of the wrong shape (unknown keys included). 503 when the read could not be stored.

The HTTP parser here is deliberately minimal and strict: one request per connection
(`Connection: close`), 8 kB of headers at most, a read timeout on the whole request.

Never: crash or stop listening on bad input, answer 200 before the read is stored, listen
on anything the config does not name.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.devices import Camera
from agent.contract.devices import CameraRead
from agent.devices.base import DeviceOffline, Driver
from agent.interfaces import DeviceSink

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8 * 1024
MAX_BODY_BYTES = 64 * 1024
READ_TIMEOUT_S = 5.0
PATHS = ("/", "/read")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           411: "Length Required", 413: "Content Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Content", 503: "Service Unavailable"}


class CameraPost(BaseModel):
    """The JSON a camera posts."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=32)
    confidence: float = Field(ge=0, le=1)
    image_ref: str | None = Field(default=None, max_length=512)
    target: Literal["plate", "container"] | None = None
    position: Literal["front", "rear", "top", "side", "unknown"] | None = None


class Rejected(Exception):
    """A post we answer with an error status; `counter` names what went wrong."""

    def __init__(self, status: int, counter: str, reason: str):
        super().__init__(reason)
        self.status, self.counter, self.reason = status, counter, reason


class CameraDriver(Driver):
    kind = "camera"
    config: Camera

    def __init__(self, config: Camera, sink: DeviceSink, clock: Clock = SYSTEM_CLOCK):
        super().__init__(config, sink, clock)
        self.read_timeout_s = READ_TIMEOUT_S
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
            await server.wait_closed()

    # -- one connection, one request ------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.count("posts")
            try:
                status, answer = 200, await self._handle(reader)
            except Rejected as no:
                self.count(no.counter)
                status, answer = no.status, {"ok": False, "error": no.counter, "reason": no.reason}
                log.info("camera %s: rejected a post (%s): %s", self.name, status, no.reason)
            await self._answer(writer, status, answer)
        except (ConnectionError, OSError):
            self.count("connection_errors")  # the camera hung up; nothing to answer
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _handle(self, reader: asyncio.StreamReader) -> dict:
        try:
            async with asyncio.timeout(self.read_timeout_s):
                head = await self._read_head(reader)
                method, path, headers = parse_head(head)
                length = check_request(method, path, headers)
                body = await reader.readexactly(length)
        except TimeoutError:
            raise Rejected(408, "timeout", f"request not complete within {self.read_timeout_s}s") from None
        except asyncio.IncompleteReadError:
            raise Rejected(400, "bad_request", "body shorter than Content-Length") from None
        read = self._to_read(body)
        try:
            await self.emit(read)
        except Exception as err:  # noqa: BLE001 - whatever failed, the camera must hear "not stored"
            log.warning("camera %s: read not stored: %s", self.name, err)
            raise Rejected(503, "not_stored", f"read not stored: {type(err).__name__}") from err
        self.count("reads")
        return {"ok": True}

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes:
        try:
            return await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise Rejected(400, "headers_too_big", f"headers over {MAX_HEADER_BYTES} bytes") from None
        except asyncio.IncompleteReadError:
            raise Rejected(400, "bad_request", "connection closed before the end of the headers") from None

    def _to_read(self, body: bytes) -> CameraRead:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise Rejected(400, "bad_json", f"body is not JSON: {err}") from None
        try:
            post = CameraPost.model_validate(data)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors())
            raise Rejected(422, "bad_schema", problems) from None
        return CameraRead(
            device=self.name,
            target=post.target or self.config.target,
            position=post.position or self.config.position,
            text=post.text,
            confidence=post.confidence,
            image_ref=post.image_ref,
        )

    async def _answer(self, writer: asyncio.StreamWriter, status: int, answer: dict) -> None:
        body = json.dumps(answer).encode()
        head = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        )
        if status == 405:
            head += "Allow: POST\r\n"
        writer.write(head.encode("ascii") + b"\r\n" + body)
        await writer.drain()


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """Request line and headers -> (method, path, lower-cased headers). Strict: raises
    `Rejected` on anything malformed."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise Rejected(400, "bad_request", "non-ASCII bytes in the request head") from None
    lines = text[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise Rejected(400, "bad_request", f"bad request line {lines[0][:80]!r}")
    method, target, _ = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise Rejected(400, "bad_request", f"bad header line {line[:80]!r}")
        key = name.lower()
        if key in headers and key in ("content-length", "transfer-encoding"):
            raise Rejected(400, "bad_request", f"duplicate {name} header")
        headers[key] = value.strip()
    return method, target.split("?", 1)[0], headers


def check_request(method: str, path: str, headers: dict[str, str]) -> int:
    """Everything about a request that can be judged before its body; returns its length."""
    if method != "POST":
        raise Rejected(405, "bad_method", f"{method} not allowed; POST a read to /read")
    if path not in PATHS:
        raise Rejected(404, "bad_path", f"no such path {path!r}; POST to /read")
    if "transfer-encoding" in headers:
        raise Rejected(411, "no_length", "chunked or encoded bodies are not accepted; send Content-Length")
    raw = headers.get("content-length")
    if raw is None:
        raise Rejected(411, "no_length", "Content-Length required")
    if not raw.isdigit():
        raise Rejected(400, "bad_request", f"bad Content-Length {raw[:20]!r}")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise Rejected(413, "too_big", f"body of {length} bytes is over {MAX_BODY_BYTES}")
    kind = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if kind not in ("application/json", "text/json", "text/plain"):
        raise Rejected(415, "not_json", f"Content-Type {kind!r} is not JSON")
    return length
