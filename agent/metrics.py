"""Prometheus metrics and a health check for a running node, served on its own event loop.

    GET /metrics   the Prometheus text exposition (prometheus_client)
    GET /healthz   200 {"status": "ready"} or 503 {"status": "degraded", "reasons": [...]},
                   the same reasons `portedge status` gives

Two kinds of metric live here:
- read at scrape time from what the node already keeps (outbox depths, link state, device and
  lane counters): one line each in `SAMPLES`, `(name, type, help, labels, read(node))` where
  `read` yields `(label values, value)`;
- counted where they happen (publishes, PUBACK latency, barrier movements): module-level
  instruments below; a new one is a stand-in line, one line in `count()` and one
  `.inc()`/`.observe()` where it happens. They count only once `count()` has run (a node with
  `[metrics]`): a node nobody scrapes never imports prometheus_client (with its http, email
  and urllib imports, ~2 MB of an idle lane node's RSS).

The server binds only the `[metrics] listen` address (loopback by default), answers GET only,
reads at most 8 kB of request head, and closes every connection after one answer.
Never: let a scrape change the node's state, or let a bad request stop the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

log = logging.getLogger(__name__)


class _Uncounted:
    """Stands in for an instrument until `count()` runs: nobody could read the count."""

    def labels(self, *values: str) -> _Uncounted:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, value: float) -> None:
        pass


# -- counted where they happen (one line each in `count()`); stand-ins until then ----------------
PUBLISHES: Any = _Uncounted()
PUBACK_SECONDS: Any = _Uncounted()
COMMAND_ANSWERS: Any = _Uncounted()
BARRIER_MOVEMENTS: Any = _Uncounted()
_registry: CollectorRegistry | None = None


def count() -> CollectorRegistry:
    """Start counting (once; the metrics server calls it): the real instruments replace the
    stand-ins. Returns their registry."""
    global _registry, PUBLISHES, PUBACK_SECONDS, COMMAND_ANSWERS, BARRIER_MOVEMENTS
    if _registry is not None:
        return _registry
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry(auto_describe=True)
    PUBLISHES = Counter("portedge_publishes", "outbox records handed to the broker (QoS 1)", registry=registry)
    PUBACK_SECONDS = Histogram("portedge_puback_seconds", "time from publish to the broker's PUBACK",
                               buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=registry)
    COMMAND_ANSWERS = Counter("portedge_command_answers", "answers to platform commands stored for the broker, by "
                              "command and code (ok, or the error code)", ["command", "code"], registry=registry)
    BARRIER_MOVEMENTS = Counter("portedge_barrier_movements", "barrier output changes written, by motion",
                                ["motion"], registry=registry)
    _registry = registry
    return registry


def __getattr__(name: str) -> Any:
    """`REGISTRY`: the counted instruments' registry (reading it starts counting)."""
    if name == "REGISTRY":
        return count()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Read = Callable[[Any], Iterable[tuple[tuple[str, ...], float]]]


def _one(value: Any) -> Iterable[tuple[tuple[str, ...], float]]:
    return [((), float(value))]


def _outbox(field: str) -> Read:
    def read(node) -> Iterable[tuple[tuple[str, ...], float]]:
        stats = node.outbox.stats()
        for name, value in getattr(stats, field).items():
            if value is not None:
                yield (name,), float(value)
    return read


def _counters(owner: Callable[[Any], Any], prefix: str = "") -> Read:
    """A `Counter[str]` an object keeps, as one labelled series (keys starting with `prefix`)."""
    def read(node) -> Iterable[tuple[tuple[str, ...], float]]:
        counters = owner(node)
        for key, value in sorted((counters or {}).items()):
            if key.startswith(prefix):
                yield (key[len(prefix):],), float(value)
    return read


def _devices(field: str) -> Read:
    def read(node) -> Iterable[tuple[tuple[str, ...], float]]:
        for driver in node.drivers:
            if field == "state":
                yield (driver.name, driver.kind, driver.state), 1.0
            else:
                yield (driver.name, driver.kind), float(driver.counters.get(field, 0))
    return read


def _device_events(node) -> Iterable[tuple[tuple[str, ...], float]]:
    for driver in node.drivers:
        for event, value in sorted(driver.counters.items()):
            yield (driver.name, driver.kind, event), float(value)


def _tasks(node) -> Iterable[tuple[tuple[str, ...], float]]:
    if node.board is None:
        return
    states: dict[str, int] = {}
    for view in node.board.tasks():
        key = getattr(view.state, "value", str(view.state))
        states[key] = states.get(key, 0) + 1
    for state, count in sorted(states.items()):
        yield (state,), float(count)


def _lane(node):
    return node.station.lane.counters if node.station is not None else {}


def _runner(node):
    return node.station.runner.counters if node.station is not None else {}


#: read at scrape time: (name, type, help, label names, read(node)); a new one is one line
SAMPLES: list[tuple[str, str, str, tuple[str, ...], Read]] = [
    ("portedge_link_connected", "gauge", "1 while connected to the broker", (), lambda n: _one(n.link.connected)),
    ("portedge_link_connects", "counter", "successful connections to the broker since start (reconnects + 1)", (),
     lambda n: _one(n.link.connects)),
    ("portedge_link_broker", "gauge", "1 for the broker address the node is on or tries next (its failover list)",
     ("url",), lambda n: [((n.link.broker,), 1.0)]),
    ("portedge_link_errors", "counter", "link errors by kind", ("kind",),
     _counters(lambda n: n.link.health().errors)),
    ("portedge_outbox_rows", "gauge", "records waiting in the outbox, by class", ("class",), _outbox("rows")),
    ("portedge_outbox_bytes", "gauge", "payload bytes waiting in the outbox, by class", ("class",), _outbox("bytes")),
    ("portedge_outbox_oldest_age_seconds", "gauge", "age of the oldest waiting record, by class", ("class",),
     _outbox("oldest_age_s")),
    ("portedge_outbox_dropped", "counter", "telemetry records dropped at the cap, by class", ("class",),
     _outbox("dropped")),
    ("portedge_device_state", "gauge", "1 for each device's current state", ("device", "kind", "state"),
     _devices("state")),
    ("portedge_device_garbled_frames", "counter", "garbled or rejected frames, by device", ("device", "kind"),
     _devices("garbled")),
    ("portedge_device_events", "counter", "every counter a device driver keeps (frames, reconnects, ...)",
     ("device", "kind", "event"), _device_events),
    ("portedge_gate_transactions", "counter", "gate transactions by outcome", ("outcome",),
     _counters(_lane, "outcome.")),
    ("portedge_gate_trouble", "counter", "lane TROUBLE entries by kind", ("kind",), _counters(_lane, "trouble.")),
    ("portedge_gate_events", "counter", "lane runner events (refusals, timeouts, failures)", ("event",),
     _counters(_runner)),
    ("portedge_tasks", "gauge", "tasks on the PDA's board, by state", ("state",), _tasks),
    ("portedge_task_refusals", "counter", "task board refusals and failures, by kind", ("kind",),
     _counters(lambda n: n.board.counters if n.board is not None else {})),
]


class NodeCollector:
    """Reads `SAMPLES` from a running NodeRuntime (called on the node's loop, at scrape time)."""

    def __init__(self, node: Any):
        self.node = node

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for name, kind, help_text, labels, read in SAMPLES:
            family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, help_text, labels=labels)
            try:
                for values, value in read(self.node):
                    family.add_metric(list(values), value)
            except Exception:  # noqa: BLE001 - one unreadable metric must not fail the scrape
                log.debug("metric %s not readable", name, exc_info=True)
                continue
            yield family


def health(node: Any) -> dict[str, Any]:
    """The node's health as /healthz and `portedge status` tell it."""
    h = node.link.health()
    reasons = list(h.degraded)
    offline = [d.name for d in node.drivers if d.state != "online"]
    if offline:
        reasons.append(f"devices not online: {', '.join(offline)}")
    return {"status": "degraded" if reasons else "ready", "node": node.config.node.id,
            "connected": h.connected, "reasons": reasons}


class MetricsServer:
    """/metrics and /healthz for one node, on the running loop."""

    MAX_HEAD = 8 * 1024
    READ_TIMEOUT_S = 5.0

    def __init__(self, node: Any, host: str, port: int, redact: Callable[[str], str] = lambda s: s):
        from prometheus_client import CollectorRegistry

        count()
        self.node, self.host, self.port, self.redact = node, host, port, redact
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(NodeCollector(node))
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> MetricsServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=self.MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def render(self) -> bytes:
        from prometheus_client.exposition import generate_latest

        return generate_latest(self.registry) + generate_latest(count())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.READ_TIMEOUT_S)
                method, path, _ = head.split(b"\r\n", 1)[0].decode("ascii").split(" ", 2)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError,
                    UnicodeDecodeError):
                await self._answer(writer, 400, "text/plain", b"bad request\n")
                return
            path = path.split("?", 1)[0]
            if method != "GET":
                await self._answer(writer, 405, "text/plain", b"GET only\n")
            elif path == "/metrics":
                await self._answer(writer, 200, "text/plain; version=0.0.4; charset=utf-8", self.render())
            elif path == "/healthz":
                h = health(self.node)
                body = self.redact(json.dumps(h, ensure_ascii=False)).encode() + b"\n"
                await self._answer(writer, 200 if h["status"] == "ready" else 503, "application/json", body)
            else:
                await self._answer(writer, 404, "text/plain", b"try /metrics or /healthz\n")
        except Exception:  # noqa: BLE001 - a broken request must not stop the server
            log.debug("metrics request failed", exc_info=True)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, code: int, content_type: str, body: bytes) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                  503: "Service Unavailable"}[code]
        writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + body)
        await writer.drain()
