"""agent.metrics at its seams: an instrument counted where it happens, and the HTTP server's
answers to requests that are not a plain GET of /metrics or /healthz."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from agent import metrics
from agent.contract.envelope import ErrorBody, Response
from agent.outbox import Outbox


def _sample(name: str, labels: dict[str, str]) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_a_stored_command_answer_is_counted_by_code(tmp_path):
    labels = {"command": "barrier_open", "code": "expired"}
    before = _sample("portedge_command_answers_total", labels)

    async def answer() -> None:
        with Outbox(tmp_path / "o.db", "lane-1") as outbox:
            refusal = Response(node="lane-1", type="barrier_open", correlation_id="c-1", ok=False,
                               error=ErrorBody(code="expired", reason="too late"))
            await outbox.put_response(refusal, "yantian/lane-1/res/barrier_open")

    asyncio.run(answer())
    assert _sample("portedge_command_answers_total", labels) == before + 1


class _Link:
    connected = True
    connects = 1

    def health(self):
        return SimpleNamespace(degraded=[], connected=True, errors={"disconnects": 2})


def test_server_answers_only_get_of_its_two_paths():
    node = SimpleNamespace(link=_Link(), outbox=None, drivers=[], station=None, board=None,
                           config=SimpleNamespace(node=SimpleNamespace(id="lane-1")))

    async def ask(raw: bytes, port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        return answer

    async def main() -> dict[str, bytes]:
        server = await metrics.MetricsServer(node, "127.0.0.1", 0).start()
        try:
            return {
                "metrics": await ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", server.port),
                "healthz": await ask(b"GET /healthz HTTP/1.1\r\n\r\n", server.port),
                "post": await ask(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", server.port),
                "garbage": await ask(b"\x00\xff nonsense\r\n\r\n", server.port),
                "other": await ask(b"GET /admin HTTP/1.1\r\n\r\n", server.port),
                "huge": await ask(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", server.port),
            }
        finally:
            await server.close()

    got = asyncio.run(main())
    assert got["metrics"].startswith(b"HTTP/1.1 200 ") and b"portedge_link_connected 1.0" in got["metrics"]
    assert b'portedge_link_errors_total{kind="disconnects"} 2.0' in got["metrics"]
    assert got["healthz"].startswith(b"HTTP/1.1 200 ") and b'"status": "ready"' in got["healthz"]
    assert got["post"].startswith(b"HTTP/1.1 405 ")
    assert got["garbage"].startswith(b"HTTP/1.1 400 ")
    assert got["other"].startswith(b"HTTP/1.1 404 ")
    assert got["huge"].startswith(b"HTTP/1.1 400 ")  # the head is bounded (8 kB)
