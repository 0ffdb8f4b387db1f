"""The network thread: the only thread that ever touches the paho client.

paho-mqtt is not safe to drive from two threads without its own `loop_start` thread, and
that thread reconnects on paho's schedule (no jitter) and keeps its own resend queue. So we
drive paho ourselves with `loop_read/loop_write/loop_misc` around one `select()`, take work
from the asyncio side through a queue plus a wake-up socket, and hand every paho event back
to the asyncio loop in order, batched, with `call_soon_threadsafe`, as typed events
(`NetEvent`: Connected, Acked, Received, ...).

A published message carries one outbox row or a batch of them (agent.link.batching); paho's
message id maps to the rows, and its PUBACK acks them all at once: one dict pop and one list
extend per PUBACK, the acked rows handed over as one `Acked` list per select round.

Invariants:
- Every paho call happens on this thread.
- Events reach the loop in the order paho produced them (PUBACKs before the disconnect that
  followed them), in at most one `call_soon_threadsafe` per select round.
- paho's own resend queue is emptied before each connect: the outbox is the only source of
  truth for what still has to go out (the link re-sends released rows itself).

This module must never touch SQLite, decide when to reconnect, or block on the asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
import select
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.link.paho_sockets import no_delay

if TYPE_CHECKING:
    from agent.link.batching import Outgoing

log = logging.getLogger(__name__)


# -- what this thread tells the loop (handed over in order, in lists) ---------------------------

@dataclass(frozen=True, slots=True)
class Connected:
    session_present: bool
    max_packet: int | None = None  # the broker's Maximum Packet Size (MQTT 5 CONNACK), None: not told


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str


@dataclass(frozen=True, slots=True)
class Acked:
    """The broker PUBACKed the messages that carried these outbox rows (all rows of a batch)."""

    rids: list[int]


@dataclass(frozen=True, slots=True)
class Received:
    """A message from the broker (a command or an answer to a request)."""

    topic: str
    payload: bytes
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PublishRefused:
    """The broker refused a publish for good; `rids` are its outbox rows (empty: not a row)."""

    rids: tuple[int, ...]
    reason: str
    code: int = 0x80  # the PUBACK's MQTT 5 reason code


@dataclass(frozen=True, slots=True)
class PacketTooLarge:
    size: int
    limit: int


@dataclass(frozen=True, slots=True)
class Delivered:
    """A publish made with `on_ack` was acknowledged: run its callback on the loop."""

    callback: Callable[[], None]


NetEvent = Connected | ConnectFailed | Disconnected | Acked | Received | PublishRefused | PacketTooLarge | Delivered

#: what one recv() may ask for: paho asks for a whole packet's remaining length at once, and
#: CPython allocates that much before the bytes arrive
RECV_CHUNK = 64 * 1024


class BoundedClient(mqtt.Client):
    """A paho client that never buffers a packet over `max_packet_bytes`.

    MQTT 5 tells the broker the limit in CONNECT (Maximum Packet Size; the broker then drops
    what is bigger), MQTT 3.1.1 cannot: there the packet's announced length is checked before
    its first byte is read, and the connection is dropped instead (`oversize` says by how
    much). The broker's own `max_packet_size` (the generated mosquitto.conf) keeps such a
    packet from ever being accepted. The hook is paho's socket read (`_sock_recv`), which
    paho 2.x calls with the packet's remaining length known."""

    def __init__(self, *args: Any, max_packet_bytes: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_packet_bytes = max_packet_bytes
        self.oversize: int | None = None  # the announced size of the packet that was refused

    def _sock_recv(self, bufsize: int) -> bytes:
        packet = self._in_packet
        if packet["have_remaining"] and packet["remaining_length"] > self.max_packet_bytes:
            self.oversize = packet["remaining_length"]
            raise ConnectionAbortedError(f"packet of {self.oversize} bytes over the limit")
        return super()._sock_recv(min(bufsize, RECV_CHUNK))


def describe_connect_error(err: BaseException) -> str:
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {err.verify_message or err}"
    if isinstance(err, ssl.SSLError):
        return f"TLS handshake failed: {err.reason or err}"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused (is the broker running on that port?)"
    if isinstance(err, TimeoutError | socket.timeout):
        return "connection timed out"
    return f"{type(err).__name__}: {err}"


class NetThread:
    def __init__(self, client: mqtt.Client, loop: asyncio.AbstractEventLoop,
                 deliver: Callable[[list[NetEvent]], None], connect_args: dict[str, Any]):
        self._client = client
        self._loop = loop
        self._deliver = deliver
        self._connect_args = connect_args
        self._work: deque[Callable[[], None]] = deque()
        self._events: list[NetEvent] = []
        self._acked: list[int] = []
        self._rows: dict[int, tuple[int, ...]] = {}  # paho mid -> the outbox rows it carries
        self._calls: dict[int, Callable[[], None]] = {}  # paho mid -> loop callback (birth, requests)
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._thread = threading.Thread(target=self._run, name="portedge-link-net", daemon=True)

    # -- from the asyncio side --------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, work: Callable[[], None]) -> None:
        self._work.append(work)
        if len(self._work) > 1:
            return  # not yet drained: the thread takes every job queued before it stops draining
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the thread is awake anyway

    def connect(self, host: str | None = None, port: int | None = None) -> None:
        """Connect, to `host:port` when given (the failover list's next address), else to the
        last one."""
        self.submit(lambda: self._do_connect(host, port))

    def publish_rows(self, messages: list[Outgoing]) -> None:
        self.submit(lambda: self._do_publish_rows(messages))

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, properties: Properties | None = None,
                on_ack: Callable[[], None] | None = None) -> None:
        self.submit(lambda: self._do_publish(topic, payload, retain, properties, on_ack))

    def subscribe(self, filters: list[str]) -> None:
        self.submit(lambda: self._do_subscribe(filters))

    def disconnect(self) -> None:
        self.submit(self._do_disconnect)

    def stop(self) -> None:
        """Blocking: ends the thread (call through asyncio.to_thread)."""
        self._stopping = True
        self.submit(lambda: None)
        self._thread.join()
        self._wake_r.close()
        self._wake_w.close()

    # -- on this thread ---------------------------------------------------------------------

    def _post(self, event: NetEvent) -> None:
        if self._acked:  # PUBACKs before what followed them
            self._events.append(Acked(self._acked))
            self._acked = []
        self._events.append(event)

    def _flush(self) -> None:
        if self._acked:
            self._events.append(Acked(self._acked))
            self._acked = []
        if self._events:
            events, self._events = self._events, []
            try:
                self._loop.call_soon_threadsafe(self._deliver, events)
            except RuntimeError:
                pass  # the loop is closed: we are shutting down

    def _run(self) -> None:
        client = self._client
        while not self._stopping:
            sock = client.socket()
            readable = [self._wake_r] + ([sock] if sock is not None else [])
            writable = [sock] if sock is not None and client.want_write() else []
            try:
                r, w, _ = select.select(readable, writable, [], 1.0)
            except (OSError, ValueError):
                r, w = [], []  # the socket closed under us; paho notices below
            if sock is not None and sock in r:
                client.loop_read()
            if self._wake_r in r:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            while self._work:
                try:
                    self._work.popleft()()
                except Exception:  # noqa: BLE001 - one bad job must not kill the link
                    log.exception("link network job failed")
            if client.socket() is not None:
                if w or client.want_write():
                    client.loop_write()
                client.loop_misc()
            self._flush()
        self._close_socket()
        self._flush()

    def _close_socket(self) -> None:
        if self._client.socket() is not None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001
                pass
            self._client._sock_close()  # paho has no public "close now"; the broker will see EOF

    def _do_connect(self, host: str | None = None, port: int | None = None) -> None:
        client = self._client
        if client.socket() is not None:
            return
        if host is not None and port is not None:
            self._connect_args.update(host=host, port=port)
        client.drop_out_messages()  # see the module docstring: the outbox re-sends, not paho
        self._rows.clear()
        self._calls.clear()
        try:
            client.connect(**self._connect_args)
        except (OSError, ssl.SSLError, ValueError) as err:
            self._client._sock_close()
            self._post(ConnectFailed(describe_connect_error(err)))
            return
        no_delay(client.socket())  # a gate decision must not wait ~40 ms behind Nagle

    def _do_publish_rows(self, messages: list[Outgoing]) -> None:
        client = self._client
        if not client.is_connected():
            return  # the loop releases these on the disconnect event it has (or will have)
        rows = self._rows
        for m in messages:
            info = client.publish(m.topic, m.payload, qos=1, properties=m.properties)
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_AGAIN:
                log.debug("publish of rows %s returned %s", m.rids, mqtt.error_string(info.rc))
            rows[info.mid] = m.rids  # paho keeps even a failed one queued; a PUBACK may still come

    def _do_publish(self, topic: str, payload: bytes, retain: bool, props: Properties | None,
                    on_ack: Callable[[], None] | None) -> None:
        if not self._client.is_connected():
            return
        info = self._client.publish(topic, payload, qos=1, retain=retain, properties=props)
        if on_ack is not None:
            self._calls[info.mid] = on_ack

    def _do_subscribe(self, filters: list[str]) -> None:
        if self._client.is_connected():
            self._client.subscribe([(f, 1) for f in filters])

    def _do_disconnect(self) -> None:
        if self._client.socket() is not None:
            self._client.disconnect()

    # -- paho callbacks (this thread) -------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code: ReasonCode, properties) -> None:
        if reason_code.is_failure:
            self._post(ConnectFailed(f"broker refused the connection: {reason_code}"))
        else:
            self._post(Connected(bool(getattr(flags, "session_present", False)),
                                 getattr(properties, "MaximumPacketSize", None)))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._rows.clear()
        self._calls.clear()
        oversize = getattr(client, "oversize", None)
        if oversize is not None:
            client.oversize = None
            limit = client.max_packet_bytes
            self._post(PacketTooLarge(oversize, limit))
            self._post(Disconnected(f"the broker sent a packet of {oversize} bytes, over this node's limit of "
                                    f"{limit}: set max_packet_size {limit} on the broker"))
            return
        self._post(Disconnected(str(reason_code)))

    def _on_publish(self, client, userdata, mid: int, reason_code: ReasonCode, properties) -> None:
        # the hot path of every PUBACK: one dict pop and a list extend, no object per row
        rids = self._rows.pop(mid, None)
        if getattr(reason_code, "is_failure", False):
            self._post(PublishRefused(rids or (), str(reason_code), getattr(reason_code, "value", 0x80)))
            return
        if rids is not None:
            self._acked.extend(rids)
            return
        call = self._calls.pop(mid, None)
        if call is not None:
            self._post(Delivered(call))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        props = {}
        p = getattr(message, "properties", None)
        if p is not None:
            for name in ("ResponseTopic", "CorrelationData", "MessageExpiryInterval"):
                if hasattr(p, name):
                    props[name] = getattr(p, name)
        self._post(Received(message.topic, bytes(message.payload), props))
