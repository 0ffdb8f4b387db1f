"""The console refuses every action without a live session and its CSRF token, limits failed
logins, and sets its cookie HttpOnly + SameSite. A real console (h11 server on a loopback port)
around a gate station whose seams are fakes; requests over real sockets."""

from __future__ import annotations

import asyncio
import http.client
import json
from types import SimpleNamespace

import pytest

from agent.audit import AuditLog
from agent.audit.watch import ObservedRecorder
from agent.config import parse
from agent.config.model import ConsoleSection, StaffMember
from agent.console.app import Console
from agent.console.sessions import make_pin_hash
from agent.contract.node import Health

from ..gate.fakes import Rig

ACTIONS = {"reread": {}, "open": {"reason": "papers ok"}, "close": {"reason": "x"},
           "decide": {"allow": True, "reason": "papers ok"}, "mode": {"mode": "closed"},
           "correct": {"position": "front", "number": "CSQU3054383"}}


class Node(SimpleNamespace):
    """What the console reads of a NodeRuntime, around the fake rig's station."""


def _node(rig, tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl", "lane-1", clock=rig.clock)
    recorder = ObservedRecorder(rig.recorder)
    rig.station.recorder = recorder
    link = SimpleNamespace(health=lambda: Health(connected=True))
    return Node(station=rig.station, audit=audit, recorder=recorder, link=link, drivers=[], clock=rig.clock,
                config=SimpleNamespace(node=SimpleNamespace(id="lane-1")))


def _call(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, json.dumps(body).encode() if body is not None else None,
                 {"content-type": "application/json", **(headers or {})})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), json.loads(data) if data.startswith(b"{") else data


def serve(tmp_path, scenario, **config):
    rig = Rig(tmp_path)

    async def main():
        await rig.station.start()
        await rig.io()
        node = _node(rig, tmp_path)
        cfg = ConsoleSection(staff=[StaffMember(badge="G0042", name="Wang", pin_hash=make_pin_hash("G0042", "4711", n=2**10))],
                             **config)
        console = await Console(node, cfg, "127.0.0.1", 0).start()
        try:
            async def call(*args, **kwargs):
                return await asyncio.to_thread(_call, console.port, *args, **kwargs)
            await scenario(call, rig)
        finally:
            await console.close()
            node.audit.close()
            await rig.close()

    asyncio.run(main())
    return rig


async def _login(call, pin="4711"):
    status, headers, body = await call("POST", "/api/login", {"badge": "G0042", "pin": pin})
    cookie = headers.get("set-cookie", "").split(";")[0]
    return status, headers, body, cookie


def test_every_action_without_a_session_is_refused(tmp_path):
    async def scenario(call, rig):
        for name, body in ACTIONS.items():
            status, _, answer = await call("POST", f"/api/action/{name}", body, {"x-csrf-token": "guess"})
            assert status == 401, (name, answer)
        status, _, _ = await call("POST", "/api/action/open", ACTIONS["open"], {"cookie": "pe_console=forged-token"})
        assert status == 401

    rig = serve(tmp_path, scenario)
    assert rig.recorder.of("staff_action") == [] and rig.lane.mode == "auto"
    assert not any(w["barrier_open"] for w in rig.port.writes)


def test_an_expired_session_is_refused(tmp_path):
    async def scenario(call, rig):
        status, headers, body, cookie = await _login(call)
        assert status == 200
        ok = await call("POST", "/api/action/mode", {"mode": "manual"}, {"cookie": cookie, "x-csrf-token": body["csrf"]})
        assert ok[0] == 200 and rig.lane.mode == "manual"
        rig.clock.advance(901)  # idle past session_idle_s
        for name, action in ACTIONS.items():
            status, _, answer = await call("POST", f"/api/action/{name}", action, {"cookie": cookie, "x-csrf-token": body["csrf"]})
            assert status == 401 and "expired" in answer["error"], (name, answer)
        assert (await call("GET", "/api/session", headers={"cookie": cookie}))[0] == 401

    rig = serve(tmp_path, scenario)
    assert [a.action for a in rig.recorder.of("staff_action")] == ["mode"]


def test_a_forged_or_missing_csrf_token_is_refused(tmp_path):
    async def scenario(call, rig):
        _, _, body, cookie = await _login(call)
        for name, action in ACTIONS.items():
            for token in ({}, {"x-csrf-token": "forged"}, {"x-csrf-token": body["csrf"][:-1] + "x"}):
                status, _, answer = await call("POST", f"/api/action/{name}", action, {"cookie": cookie, **token})
                assert status == 403 and "CSRF" in answer["error"], (name, token, answer)
        cross = await call("POST", "/api/action/mode", {"mode": "closed"},
                           {"cookie": cookie, "x-csrf-token": body["csrf"], "origin": "http://evil.example"})
        assert cross[0] == 403

    rig = serve(tmp_path, scenario)
    assert rig.recorder.of("staff_action") == [] and rig.lane.mode == "auto"


def test_login_cookie_and_rate_limit(tmp_path):
    async def scenario(call, rig):
        status, headers, body, cookie = await _login(call)
        assert status == 200 and body["badge"] == "G0042" and "pin" not in json.dumps(body)
        flags = [f.strip().lower() for f in headers["set-cookie"].split(";")]
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
        for _ in range(5):
            assert (await _login(call, pin="0000"))[0] == 401
        status, headers, body, _ = await _login(call)  # the right PIN, but too soon
        assert status == 429 and int(headers["retry-after"]) > 0
        unknown = await call("POST", "/api/login", {"badge": "NOBODY", "pin": "4711"})
        assert unknown[0] in (401, 429)  # the same answer as a wrong PIN: no badge is confirmed
        rig.clock.advance(301)
        assert (await _login(call))[0] == 200

    serve(tmp_path, scenario)


def test_bad_requests_get_4xx_not_a_crash(tmp_path):
    async def scenario(call, rig):
        _, _, body, cookie = await _login(call)
        auth = {"cookie": cookie, "x-csrf-token": body["csrf"]}
        assert (await call("POST", "/api/action/correct", {"position": "roof", "number": "X"}, auth))[0] == 422
        assert (await call("POST", "/api/action/decide", {"allow": "yes", "reason": "r"}, auth))[0] == 422
        assert (await call("POST", "/api/action/open", {"reason": ""}, auth))[0] == 422
        assert (await call("POST", "/api/action/fly", {}, auth))[0] == 404
        assert (await call("DELETE", "/", None))[0] == 405
        status, _, answer = await call("POST", "/api/action/correct", {"position": "front", "number": "CSQU3054384"}, auth)
        assert status == 409 and "ISO 6346" in answer["reason"]

    serve(tmp_path, scenario)


def test_the_console_is_off_unless_configured():
    base = '[node]\nid = "lane-1"\nsite = "s"\nrole = "gate"\n[gate]\nlane = "lane-1"\n'
    assert parse(base, "lane.toml").console is None
    on = parse(base + "[console]\n", "lane.toml").console
    assert on is not None and on.listen.startswith("127.0.0.1:") and on.staff == []
    with pytest.raises(ValueError, match="console"):
        parse(base.replace('"gate"\n[gate]\nlane = "lane-1"', '"pda"') + "[console]\n", "pda.toml")
