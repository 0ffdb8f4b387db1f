"""The link's paho client, driven on the asyncio loop: its I/O, and the events it raises.

paho's own `loop_start()` is a thread that reconnects on paho's schedule (no jitter) and keeps
its own resend queue. We drive paho ourselves through its external-loop hooks, the same piece
the fleet simulator drives its thousand clients with (agent.link.paho_sockets.PahoSockets):
the client's socket sits in that selector, the loop watches the selector with one
`add_reader` and calls `loop_read`/`loop_write` when it is ready, `loop_misc` (keepalive,
timeouts) runs on a 1 s timer. paho stays the session owner (connect, keepalive, QoS 1 state,
persistent session). Every paho event is handed to the link in order, batched, as typed
events (`NetEvent`: Connected, Acked, Received, ...) with one `call_soon` per round.

Why on the loop and not on a thread of its own: a thread meant a GIL hand-off and a
`call_soon_threadsafe` per round each way, and cost more CPU per event (measured in
docs/benchmarks.md). The price: a long turn of the loop (a slow Kivy frame on the PDA) delays
reading PUBACKs and sending pings by that long (docs/architecture.md, Concurrency).

`connect()` is the one call off the loop: paho's connect blocks (TCP connect up to
`connect_timeout` on an unreachable broker, the TLS handshake), so it runs in a worker thread,
and nothing else touches the client until it returns (publish/subscribe need a CONNACK first;
`loop_misc` waits).

A published message carries one outbox row or a batch of them (agent.link.batching); paho's
message id maps to the rows, and its PUBACK acks them all at once: one dict pop and one list
extend per PUBACK, the acked rows handed over as one `Acked` list per round.

Invariants:
- Every paho call happens on the loop, except the connect in its worker thread.
- Events reach the link in the order paho produced them (PUBACKs before the disconnect that
  followed them), never from inside one of the link's own calls.
- paho's own resend queue is emptied before each connect: the outbox is the only source of
  truth for what still has to go out (the link re-sends released rows itself).

This module must never touch SQLite, decide when to reconnect, or block the asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.link.paho_sockets import PahoSockets

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

#: how often paho's keepalive and timeout bookkeeping (`loop_misc`) runs
MISC_EVERY_S = 1.0


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


class NetDriver:
    """The paho client's I/O on the asyncio loop, and the events it raises, handed to the link."""

    def __init__(self, client: mqtt.Client, loop: asyncio.AbstractEventLoop,
                 deliver: Callable[[list[NetEvent]], None], connect_args: dict[str, Any]):
        self._client = client
        self._loop = loop
        self._deliver = deliver
        self._connect_args = connect_args
        self._sockets = PahoSockets()
        self._sockets.attach(client)
        self._events: list[NetEvent] = []
        self._acked: list[int] = []
        self._rows: dict[int, tuple[int, ...]] = {}  # paho mid -> the outbox rows it carries
        self._calls: dict[int, Callable[[], None]] = {}  # paho mid -> loop callback (birth, requests)
        self._started = self._stopping = False
        self._connecting: asyncio.Task[None] | None = None  # connect() running in a worker thread
        self._misc_timer: asyncio.TimerHandle | None = None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message

    # -- the link's calls (on the loop) -----------------------------------------------------

    def start(self) -> None:
        self._started = True
        self._loop.add_reader(self._sockets.fileno(), self._service)
        self._misc_timer = self._loop.call_later(MISC_EVERY_S, self._tick)

    def connect(self, host: str | None = None, port: int | None = None) -> None:
        """Connect, to `host:port` when given (the failover list's next address), else to the
        last one. Returns at once: the outcome arrives as Connected or ConnectFailed."""
        if self._connecting is None and not self._stopping and self._prepare_connect(host, port):
            self._connecting = self._loop.create_task(self._connect_aside(), name="portedge-link-connect")

    def publish_rows(self, messages: list[Outgoing]) -> None:
        client = self._client
        if self._stopping or not client.is_connected():
            return  # the loop releases these on the disconnect event it has (or will have)
        rows = self._rows
        for m in messages:
            info = client.publish(m.topic, m.payload, qos=1, properties=m.properties)
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_AGAIN:
                log.debug("publish of rows %s returned %s", m.rids, mqtt.error_string(info.rc))
            rows[info.mid] = m.rids  # paho keeps even a failed one queued; a PUBACK may still come

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, properties: Properties | None = None,
                on_ack: Callable[[], None] | None = None) -> None:
        if self._stopping or not self._client.is_connected():
            return
        info = self._client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        if on_ack is not None:
            self._calls[info.mid] = on_ack

    def subscribe(self, filters: list[str]) -> None:
        if not self._stopping and self._client.is_connected():
            self._client.subscribe([(f, 1) for f in filters])

    def disconnect(self) -> None:
        if not self._stopping and self._connecting is None and self._client.socket() is not None:
            self._client.disconnect()

    async def stop(self) -> None:
        """Stop watching the socket and close it; events already raised are still delivered."""
        self._stopping = True
        if self._connecting is not None:  # a worker thread cannot be cancelled: let it end
            await asyncio.gather(asyncio.shield(self._connecting), return_exceptions=True)
        if self._started:
            self._loop.remove_reader(self._sockets.fileno())
        if self._misc_timer is not None:
            self._misc_timer.cancel()
        self._close_socket()
        self._flush()
        self._sockets.close()

    # -- paho's I/O (on the loop) -----------------------------------------------------------

    def _service(self) -> None:
        """A socket in the selector is ready: read and write it, hand over what paho raised."""
        self._sockets.poll(0)
        self._flush()

    def _tick(self) -> None:
        """Every second: keepalive and timeouts (not while connect() runs in its thread)."""
        if self._connecting is None:
            self._sockets.misc()
            self._flush()
        self._misc_timer = self._loop.call_later(MISC_EVERY_S, self._tick)

    async def _connect_aside(self) -> None:
        try:
            error = await asyncio.to_thread(self._open)
        finally:
            self._connecting = None
        if error is not None:
            self._post(ConnectFailed(error))
        self._flush()

    def _close_socket(self) -> None:
        if self._client.socket() is not None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001
                pass
            self._client._sock_close()  # paho has no public "close now"; the broker will see EOF

    def _prepare_connect(self, host: str | None, port: int | None) -> bool:
        if self._client.socket() is not None:
            return False
        if host is not None and port is not None:
            self._connect_args.update(host=host, port=port)
        self._client.drop_out_messages()  # see the module docstring: the outbox re-sends, not paho
        self._rows.clear()
        self._calls.clear()
        return True

    def _open(self) -> str | None:
        """In a worker thread: paho's blocking connect (TCP, TLS handshake, CONNECT queued);
        the error, if any. The socket joins the selector through paho's on_socket_open hook
        (TCP_NODELAY set there)."""
        try:
            self._client.connect(**self._connect_args)
        except (OSError, ssl.SSLError, ValueError) as err:
            self._client._sock_close()
            return describe_connect_error(err)
        return None

    # -- the events, handed to the link in order --------------------------------------------

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
                self._loop.call_soon(self._deliver, events)  # never re-enter the link from its own call
            except RuntimeError:
                pass  # the loop is closed: we are shutting down

    # -- paho callbacks (inside loop_read/loop_write, on the loop) -------------------------------------------------------

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
