"""The console's routes and its live stream, on the gate node's loop.

    GET  /                 the page (one file: markup, style, script; the diagram inlined)
    GET  /events           server-sent events: the lane's picture on every change (at most
                           ten a second), a keep-alive comment every 15 s
    GET  /api/session      who is logged in here, and the session's CSRF token
    POST /api/login        {"badge", "pin"} -> session cookie (HttpOnly, SameSite=Strict)
    POST /api/logout
    POST /api/action/NAME  NAME in ACTIONS; JSON body; header X-CSRF-Token

Viewing needs no login (it is the booth's wall screen); every action needs a live session
and its CSRF token, and is refused with 401/403 before it reaches the lane otherwise. The
picture is pushed only while a browser is watching: an idle console costs nothing but its
listening socket and the record observer.

Never: act for a request without a session and a matching CSRF token, answer a failed login
differently for an unknown badge, or keep more than `MAX_WATCHERS` streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import resources
from typing import Any

from agent.config.model import ConsoleSection
from agent.console.diagram import svg
from agent.console.http import HttpServer, Request, Response, Stream
from agent.console.sessions import Session, Sessions, check_pin
from agent.console.view import Memory, picture
from agent.gate.staff import StaffDesk

log = logging.getLogger(__name__)
COOKIE = "pe_console"
MAX_WATCHERS = 8
PUSH_EVERY_S = 0.1
KEEPALIVE_S = 15.0
HEALTH_EVERY_S = 5.0
POSITIONS = ("front", "rear", "top", "side", "unknown")


def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8",
                    headers or [])


def _reason(body: dict, required: bool) -> str:
    reason = str(body.get("reason", "")).strip()
    if required and not reason:
        raise ValueError("a reason is needed")
    if len(reason) > 500:
        raise ValueError("the reason is longer than 500 characters")
    return reason


class Console:
    def __init__(self, node: Any, config: ConsoleSection, host: str, port: int):
        self.node, self.config = node, config
        self.clock = node.clock
        self.desk = StaffDesk(node.station, node.audit)
        self.sessions = Sessions(self.clock, idle_s=config.session_idle_s, max_s=config.session_max_s,
                                 max_failures=config.login_failures, window_s=config.login_window_s)
        self.staff = {m.badge: m for m in config.staff}
        self.memory = Memory()
        self.server = HttpServer(self.handle, host, port)
        self._page = resources.files("agent.console").joinpath("page.html").read_text("utf-8").replace(
            "<!--DIAGRAM-->", svg())
        self._watchers: set[asyncio.Queue[bytes]] = set()
        self._dirty = asyncio.Event()
        self._pusher: asyncio.Task | None = None
        node.recorder.observers.append(self._observe)
        if node.audit is not None:
            node.audit.add_listener(self._audited)

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> Console:
        await self.server.start()
        return self

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.node.recorder.observers.remove(self._observe)
        if self._pusher is not None:
            self._pusher.cancel()
            await asyncio.gather(self._pusher, return_exceptions=True)
        for queue in list(self._watchers):  # end every stream: an empty frame is the last
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(b"")
        await self.server.close()

    # -- what happens at the lane -----------------------------------------------------------
    def _observe(self, type_: str, body: Any) -> None:
        if self.memory.observe(type_, body) and self._watchers:
            self._dirty.set()

    def _audited(self, entry: Any) -> None:
        self.memory.audit.appendleft({"seq": entry.seq, "ts": entry.ts, "kind": entry.kind, "actor": entry.actor,
                                      "what": entry.what, "hash": entry.hash[:12]})
        if self._watchers:
            self._dirty.set()

    def picture(self) -> dict[str, Any]:
        return picture(self.node, self.memory, self.node.audit)

    def _frame(self) -> bytes:
        return b"event: lane\ndata: " + json.dumps(self.picture(), ensure_ascii=False).encode() + b"\n\n"

    async def _push(self) -> None:
        """While anyone watches: one picture per change (coalesced), and every few seconds
        for the health figures that change without a record."""
        while self._watchers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), HEALTH_EVERY_S)
            self._dirty.clear()
            try:
                frame = self._frame()
            except Exception:  # a picture that cannot be built is logged, never the end of the stream
                log.exception("console picture failed")
                await asyncio.sleep(1.0)
                continue
            for queue in list(self._watchers):
                if queue.full():
                    queue.get_nowait()  # a newer picture replaces one not yet sent
                queue.put_nowait(frame)
            await asyncio.sleep(PUSH_EVERY_S)

    async def _stream(self, queue: asyncio.Queue[bytes]):
        try:
            yield b"retry: 2000\n" + self._frame()
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    frame = b": keep-alive\n\n"
                if not frame:
                    return
                yield frame
        finally:
            self._watchers.discard(queue)

    # -- requests -------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response | Stream:
        method, path = request.method, request.path
        if method == "GET":
            if path == "/":
                return Response(200, self._page.encode(), "text/html; charset=utf-8")
            if path == "/events":
                if len(self._watchers) >= MAX_WATCHERS:
                    return _json(503, {"error": "too many screens watching"})
                queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
                self._watchers.add(queue)
                if self._pusher is None or self._pusher.done():
                    self._pusher = asyncio.create_task(self._push(), name="console-push")
                return Stream(self._stream(queue))
            if path == "/api/session":
                session = self.sessions.get(request.cookie(COOKIE))
                if session is None:
                    return _json(401, {"error": "not logged in"})
                return _json(200, {"badge": session.badge, "name": session.name, "csrf": session.csrf})
            return _json(404, {"error": "not found"})
        if method != "POST":
            return _json(405, {"error": "method not allowed"})
        if not self._same_origin(request):
            return _json(403, {"error": "cross-origin request refused"})
        if path == "/api/login":
            return await self._login(request)
        session = self.sessions.get(request.cookie(COOKIE))
        if session is None:
            return _json(401, {"error": "not logged in, or the session expired"})
        if not Sessions.csrf_ok(session, request.headers.get("x-csrf-token")):
            return _json(403, {"error": "CSRF token missing or wrong"})
        if path == "/api/logout":
            self.sessions.close(request.cookie(COOKIE))
            return _json(200, {"ok": True}, [("set-cookie", f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")])
        if path.startswith("/api/action/"):
            return await self._action(path.removeprefix("/api/action/"), request, session)
        return _json(404, {"error": "not found"})

    @staticmethod
    def _same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return True  # not a browser's cross-site form; the CSRF token still guards actions
        return origin.split("://", 1)[-1] == request.headers.get("host", "")

    async def _login(self, request: Request) -> Response:
        try:
            body = json.loads(request.body or b"{}")
            badge, pin = str(body["badge"]).strip(), str(body["pin"])
        except (ValueError, KeyError, TypeError):
            return _json(422, {"error": "send badge and pin"})
        keys = (f"badge:{badge}", f"addr:{request.client}")
        wait = self.sessions.wait_s(*keys)
        if wait > 0:
            return _json(429, {"error": "too many failed logins", "wait_s": round(wait)},
                         [("retry-after", str(int(wait) + 1))])
        member = self.staff.get(badge)
        ok = member is not None and 0 < len(pin) <= 32 and await asyncio.to_thread(check_pin, badge, pin, member.pin_hash)
        if not ok:
            self.sessions.failed(*keys)
            log.warning("console login failed for badge %r from %s", badge[:64], request.client)
            return _json(401, {"error": "badge or PIN not accepted"})
        self.sessions.succeeded(*keys)
        session = self.sessions.open(badge, member.name if member else "")
        cookie = f"{COOKIE}={session.token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={int(self.config.session_max_s)}"
        log.info("console login: %s", badge)
        return _json(200, {"badge": badge, "name": session.name, "csrf": session.csrf}, [("set-cookie", cookie)])

    async def _action(self, name: str, request: Request, session: Session) -> Response:
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("send a JSON object")
            work = self._work(name, body, session.badge)
        except (ValueError, TypeError) as err:
            return _json(422, {"error": str(err)})
        if work is None:
            return _json(404, {"error": f"no action {name!r}"})
        outcome = await work
        if self._watchers:
            self._dirty.set()
        return _json(200 if outcome.done else 409, {"done": outcome.done, "reason": outcome.reason,
                                                    "audit_seq": outcome.audit_seq, "action": outcome.action})

    def _work(self, name: str, body: dict, badge: str):
        desk = self.desk
        if name == "reread":
            return desk.reread(badge)
        if name == "open":
            return desk.open(badge, _reason(body, True))
        if name == "close":
            return desk.close(badge, _reason(body, False))
        if name == "decide":
            if not isinstance(body.get("allow"), bool):
                raise ValueError("allow must be true or false")
            return desk.decide(badge, body["allow"], _reason(body, True))
        if name == "mode":
            if body.get("mode") not in ("auto", "manual", "closed"):
                raise ValueError("mode must be auto, manual or closed")
            return desk.set_mode(badge, body["mode"], _reason(body, False))
        if name == "correct":
            position, number = body.get("position"), body.get("number")
            if position not in POSITIONS or not isinstance(number, str) or len(number) > 32:
                raise ValueError("send position (front/rear/...) and number")
            return desk.correct(badge, position, number, _reason(body, False))
        return None


async def start_console(node: Any) -> Console | None:
    """The node's console, listening, or None when the config has no [console]."""
    config = node.config.console
    if config is None or node.station is None:
        return None
    from agent.config.checks import split_listen

    host, port = split_listen(config.listen)
    console = await Console(node, config, host, port).start()
    log.info("console on http://%s:%d/", host if ":" not in host else f"[{host}]", console.port)
    return console
