"""The HTTP/1.1 side of an OCR camera's push, sans-I/O over h11: bytes in, one request body
(or a refusal) out, and the answer's bytes.

Theory of operation: one request per connection (`Connection: close` on every answer).
`feed(data)` hands the bytes to h11 and judges the request as soon as it can: the request
line and headers as soon as they are complete (method, path, framing, length, type), the
body while it arrives (Content-Length or chunked, never over `max_body`). It returns the
whole body once the message has ended, None while more is needed, and raises `PushRejected`
(status, counter, reason) for anything refused. `feed(b"")` says the peer closed its side.
`answer(status, payload)` returns the bytes of the JSON answer.

Bounds: h11 holds at most `max_head` bytes of an incomplete request line and headers (or
chunk header); the body at most `max_body`. Every refusal is a 4xx with a counter name;
nothing a camera sends makes this module raise anything else.
"""

from __future__ import annotations

import json

import h11

from agent.contract.camera import JSON_TYPES, MAX_BODY_BYTES, MAX_HEADER_BYTES, PATHS
from agent.errors import PushRejected

__all__ = ["JSON_TYPES", "MAX_BODY_BYTES", "MAX_HEADER_BYTES", "PATHS", "PostReader", "PushRejected"]

REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
           408: b"Request Timeout", 411: b"Length Required", 413: b"Content Too Large",
           415: b"Unsupported Media Type", 422: b"Unprocessable Content", 503: b"Service Unavailable"}


class PostReader:
    """One camera connection's request, read with h11."""

    def __init__(self, max_head: int = MAX_HEADER_BYTES, max_body: int = MAX_BODY_BYTES):
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head)
        self._max_head, self._max_body = max_head, max_body
        self._request: h11.Request | None = None
        self._body = bytearray()

    def feed(self, data: bytes) -> bytes | None:
        self._h11.receive_data(data)
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as err:
                raise self._refusal(err) from None
            if event is h11.NEED_DATA:
                if not data:
                    raise PushRejected(400, "bad_request", "connection closed before the request was complete")
                return None
            if isinstance(event, h11.Request):
                self._request = event
                if head_size(event) > self._max_head:  # h11 bounds only an incomplete head
                    raise PushRejected(400, "headers_too_big", f"request line and headers over {self._max_head} bytes")
                check_request(event, self._max_body)
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self._max_body:
                    raise PushRejected(413, "too_big", f"body over {self._max_body} bytes")
            elif isinstance(event, h11.EndOfMessage):
                return bytes(self._body)
            else:  # ConnectionClosed (or PAUSED) before the message ended
                raise PushRejected(400, "bad_request", "connection closed before the request was complete")

    def continue_now(self) -> bytes:
        """`100 Continue` once, if the camera sent `Expect: 100-continue` and waits for it
        before sending its body (curl does, for bodies over 1 kB); else b""."""
        if self._h11.they_are_waiting_for_100_continue:
            return self._h11.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
        return b""

    def _refusal(self, err: h11.RemoteProtocolError) -> PushRejected:
        if self._request is None and err.error_status_hint == 431:
            return PushRejected(400, "headers_too_big", f"request line and headers over {self._max_head} bytes")
        reason = str(err) or "malformed request"
        return PushRejected(400, "bad_request", reason[:200])

    def answer(self, status: int, payload: dict, allow: str | None = None) -> bytes:
        """The response bytes (h11 frames them when it can; after a protocol error, by hand)."""
        body = json.dumps(payload).encode()
        headers = [(b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode()),
                   (b"Connection", b"close")]
        if allow:
            headers.append((b"Allow", allow.encode()))
        try:
            return (self._h11.send(h11.Response(status_code=status, headers=headers, reason=REASONS[status]))
                    + self._h11.send(h11.Data(data=body)) + self._h11.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            return answer_bytes(status, headers, body)


def answer_bytes(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    head = b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])
    return head + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n" + body


def busy_answer(reason: str) -> bytes:
    """What a connection over the listener's cap hears, without reading its request."""
    body = json.dumps({"ok": False, "error": "busy", "reason": reason}).encode()
    return answer_bytes(503, [(b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode()),
                              (b"Retry-After", b"1"), (b"Connection", b"close")], body)


def head_size(request: h11.Request) -> int:
    """The size of the request line and headers as sent (give or take the spaces)."""
    return (len(request.method) + len(request.target) + 12
            + sum(len(name) + len(value) + 4 for name, value in request.headers.raw_items()))


def check_request(request: h11.Request, max_body: int = MAX_BODY_BYTES) -> None:
    """Everything about a request that can be judged before its body."""
    method, path = request.method.decode("ascii", "replace"), request.target.split(b"?", 1)[0]
    if method != "POST":
        raise PushRejected(405, "bad_method", f"{method[:20]} not allowed; POST a read to /read")
    if path.decode("ascii", "replace") not in PATHS:
        raise PushRejected(404, "bad_path", f"no such path {path[:80].decode('ascii', 'replace')!r}; POST to /read")
    headers = {name: value for name, value in request.headers}  # h11 lower-cases the names
    if b"content-length" in headers and b"transfer-encoding" in headers:
        raise PushRejected(400, "bad_request", "both Content-Length and Transfer-Encoding: send one")
    if b"content-length" not in headers and b"transfer-encoding" not in headers:
        raise PushRejected(411, "no_length", "Content-Length (or a chunked body) required")
    length = int(headers.get(b"content-length", b"0"))  # h11 checked: digits, at most 20
    if length > max_body:
        raise PushRejected(413, "too_big", f"body of {length} bytes is over {max_body}")
    kind = headers.get(b"content-type", b"application/json").split(b";", 1)[0].strip().lower()
    if kind.decode("ascii", "replace") not in JSON_TYPES:
        raise PushRejected(415, "not_json", f"Content-Type {kind[:40].decode('ascii', 'replace')!r} is not JSON")
