"""The console's parts on their own: the diagram drawn from the table, the HTTP server's
bounds (real sockets), and the audit taps (a barrier audited even when the outbox refuses;
platform commands audited done or refused)."""

from __future__ import annotations

import asyncio
import json
import socket
from types import SimpleNamespace

import pytest

from agent.audit import AuditLog, verify_lines
from agent.audit.watch import AuditWatch, ObservedRecorder, audited_command
from agent.console.diagram import svg
from agent.console.http import HttpServer, Response
from agent.contract.gate import LaneEvent
from agent.errors import InvalidCommandError, StorageFullError
from agent.gate.diagram import edges
from agent.gate.events import State


def test_the_diagram_has_every_state_and_transition_of_the_table():
    drawing = svg()
    for state in State:
        assert f'id="st-{state.value}"' in drawing
    for src, dst in edges():
        assert f"{src.value} → {dst.value}:" in drawing
    assert drawing.count('class="edge"') == len(edges())


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_the_server_answers_bad_requests_with_4xx_and_keeps_serving():
    async def app(request):
        return Response(200, b'{"ok":true}')

    async def scenario():
        server = await HttpServer(app, "127.0.0.1", 0, max_body=1024, read_timeout_s=1.0).start()
        try:
            call = lambda data: asyncio.to_thread(_raw, server.port, data)  # noqa: E731
            assert (await call(b"GARBAGE\r\n\r\n")).startswith(b"HTTP/1.1 400")
            assert (await call(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n")).startswith(b"HTTP/1.1 413")
            head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n"
            assert (await call(head)).split(b" ")[1] in (b"400", b"431")
            assert (await call(b"GET / HTTP/1.1\r\nHost: x\r\n")).startswith(b"HTTP/1.1 408")  # never finished
            ok = await call(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert ok.startswith(b"HTTP/1.1 200") and b"content-security-policy" in ok.lower()
            return dict(server.counters)
        finally:
            await server.close()

    counters = asyncio.run(scenario())
    assert counters["bad_request"] >= 1 and counters["too_large"] == 1 and counters["read_timeout"] == 1


def test_a_barrier_movement_is_audited_even_when_the_outbox_refuses_it(tmp_path):
    class FullOutbox:
        async def record(self, type, body, priority="transactional"):
            raise StorageFullError("full")

    async def scenario():
        audit = AuditLog(tmp_path / "a.jsonl", "lane-1")
        recorder = ObservedRecorder(FullOutbox(), [AuditWatch(audit)])
        with pytest.raises(StorageFullError):
            await recorder.record("lane_event", LaneEvent(lane="lane-1", what="barrier", value="opening",
                                                          transaction_id="T1"), "control")
        audit.close()

    asyncio.run(scenario())
    [entry] = [json.loads(x) for x in (tmp_path / "a.jsonl").read_bytes().splitlines()]
    assert (entry["kind"], entry["what"], entry["detail"]["transaction_id"]) == ("barrier", "opening", "T1")


def test_platform_commands_are_audited_done_or_refused(tmp_path):
    async def opens(command):
        return None

    async def refuses(command):
        raise InvalidCommandError("unsafe", "e-stop pressed")

    def command(id_):
        return SimpleNamespace(id=id_, body={"lane": "lane-1", "reason": "papers ok", "operator": "ops-7"})

    async def scenario():
        audit = AuditLog(tmp_path / "a.jsonl", "lane-1")
        await audited_command(audit, "barrier_open", opens)(command("C1"))
        with pytest.raises(InvalidCommandError):
            await audited_command(audit, "barrier_open", refuses)(command("C2"))
        audit.close()

    asyncio.run(scenario())
    raw = (tmp_path / "a.jsonl").read_bytes()
    assert verify_lines(raw.splitlines(keepends=True)).ok
    done, refused = [json.loads(x) for x in raw.splitlines()]
    assert (done["actor"], done["what"], done["detail"]["command_id"]) == ("ops-7", "barrier_open", "C1")
    assert refused["what"] == "barrier_open refused" and refused["detail"]["refused"] == "e-stop pressed"
