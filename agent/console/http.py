"""A small HTTP/1.1 server over h11 for the console, on the running event loop.

Theory of operation: one request per connection (every answer says `Connection: close`), so
a connection is: read the head and a bounded body with h11, hand a `Request` to the app, write
the answer. An app may instead answer with a `Stream` (server-sent events): the head goes out
with no length (h11 frames it chunked) and the stream's chunks follow until it ends or the
browser goes away.

Bounds: `max_connections` open at once (more get 503 at once), 8 kB of head, `max_body`
bytes of body, a read timeout. A malformed request gets a 4xx; nothing a client sends makes
the server raise. Never: keep a connection open past its answer (streams excepted), or let
one client's error reach another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import h11

from agent.errors import RemoteError

log = logging.getLogger(__name__)
MAX_HEAD = 8 * 1024
REASONS = {200: "OK", 204: "No Content", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content", 429: "Too Many Requests",
           503: "Service Unavailable"}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: http: https:; style-src 'self' 'unsafe-inline'; "
                                 b"script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    client: str

    def cookie(self, name: str) -> str | None:
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Stream:
    """Server-sent events: `chunks` yields already-framed `data:` blocks."""

    chunks: AsyncIterator[bytes]
    headers: list[tuple[str, str]] = field(default_factory=list)


App = Callable[[Request], Awaitable[Response | Stream]]


class HttpServer:
    def __init__(self, app: App, host: str, port: int, *, max_connections: int = 32, max_body: int = 16 * 1024,
                 read_timeout_s: float = 10.0):
        self.app, self.host, self.port = app, host, port
        self.max_connections, self.max_body, self.read_timeout_s = max_connections, max_body, read_timeout_s
        self.counters: Counter[str] = Counter()
        self._server: asyncio.base_events.Server | None = None
        self._open: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> HttpServer:
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and end open connections by closing their sockets (a handler is not
        cancelled: asyncio would log its cancellation as an error); wait for them to finish."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._open:
            await asyncio.wait(set(self._open), timeout=5.0)
        if self._server is not None:
            await self._server.wait_closed()

    # -- one connection -------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        self._writers.add(writer)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            if len(self._open) > self.max_connections:
                self.counters["busy"] += 1
                await self._send(writer, conn, Response(503, b'{"error":"busy"}'))
                return
            try:
                request = await asyncio.wait_for(self._read(reader, writer, conn), self.read_timeout_s)
            except TimeoutError:
                self.counters["read_timeout"] += 1
                await self._send(writer, conn, Response(408, b'{"error":"request timeout"}'))
                return
            except _Refused as refused:
                self.counters[refused.counter] += 1
                await self._send(writer, conn, Response(refused.status, b'{"error":"' + refused.counter.encode() + b'"}'))
                return
            if request is None:
                return
            try:
                answer = await self.app(request)
            except Exception:  # a bug in a route is a 500 for that request, never a crash
                log.exception("console route %s %s failed", request.method, request.path)
                self.counters["route_failed"] += 1
                answer = Response(500, b'{"error":"internal error"}')
            if isinstance(answer, Stream):
                await self._stream(writer, conn, answer)
            else:
                await self._send(writer, conn, answer)
        except (ConnectionError, OSError, h11.LocalProtocolError, asyncio.IncompleteReadError):
            self.counters["connection_lost"] += 1
        finally:
            self._open.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: h11.Connection) -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as err:
                raise _Refused(err.error_status_hint or 400, "bad_request") from None
            if event is h11.NEED_DATA:
                data = await reader.read(4096)
                if not data and head is None:
                    return None
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                head = event
                length = dict(event.headers).get(b"content-length")
                if length is not None and int(length) > self.max_body:
                    raise _Refused(413, "too_large")
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body:
                    raise _Refused(413, "too_large")
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                return None
        assert head is not None
        target = head.target.decode("latin-1")
        parts = urlsplit(target)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers}
        peer = writer.get_extra_info("peername")
        return Request(head.method.decode("ascii", "replace"), parts.path, parse_qs(parts.query), headers, bytes(body),
                       peer[0] if peer else "")

    async def _send(self, writer: asyncio.StreamWriter, conn: h11.Connection, answer: Response) -> None:
        headers = [(b"content-type", answer.content_type.encode()), (b"content-length", str(len(answer.body)).encode()),
                   (b"connection", b"close"), *SECURITY_HEADERS,
                   *[(k.encode(), v.encode()) for k, v in answer.headers]]
        reason = REASONS.get(answer.status, "Error").encode()
        writer.write(conn.send(h11.Response(status_code=answer.status, headers=headers, reason=reason)))
        if answer.body:
            writer.write(conn.send(h11.Data(data=answer.body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()

    async def _stream(self, writer: asyncio.StreamWriter, conn: h11.Connection, stream: Stream) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"connection", b"close"),
                   *SECURITY_HEADERS, *[(k.encode(), v.encode()) for k, v in stream.headers]]
        writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
        await writer.drain()
        try:
            async for chunk in stream.chunks:
                writer.write(conn.send(h11.Data(data=chunk)))
                await writer.drain()
        finally:
            aclose = getattr(stream.chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()


class _Refused(RemoteError):
    """A browser request the console answers with an error status (the client is at fault)."""

    def __init__(self, status: int, counter: str):
        super().__init__(counter)
        self.status, self.counter = status, counter
