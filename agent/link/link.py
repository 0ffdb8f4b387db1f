"""The link: one node's MQTT session with the platform, owned by one asyncio loop.

It drains the outbox in (priority, seq) order with QoS 1 and a bounded in-flight window of
records, packs records of one topic that wait together into one batch message
(agent.link.batching; per class, `[link.batch]`), acks rows on PUBACK - every row of a batch
on the batch's PUBACK - (the outbox deletes them in batches on its writer thread, never inside
a paho callback), re-sends what was in flight after a reconnect (same id, same seq), keeps a
persistent session for commands, announces itself with a retained birth state and a retained
last will, answers commands, asks the platform questions, and beats.

States: stopped -> connecting -> connected -> (lost -> waiting(backoff) -> connecting)* ->
stopping -> stopped. The reconnect delay is drawn with full jitter from a seeded Random;
there is no attempt limit. The backoff starts over only once a connection has stayed up
`reconnect_stable_s`: a broker that answers CONNACK and drops the client (a cluster node whose
queue lives on a dead node, another client taking this client id) is retried at the backoff's
pace, not in a hot loop.

Failover (`[broker] urls`): the addresses are tried in order, one per attempt, with the same
backoff; the node sticks to the one that works. A connection that held (stayed up
`reconnect_stable_s`) is retried on the same address first; an attempt that failed or did not
hold moves on to the next. A broker that does not hold the session is handled like any
reconnect: the subscriptions are made on every connect, and what the outbox still holds is sent
again (same id, same seq).

Packet size: an MQTT 5 broker's Maximum Packet Size (CONNACK) caps every batch, and a lone
record that no packet it takes can carry is parked (`record_too_large`) instead of dropping the
connection on every attempt. MQTT 3.1.1 cannot tell the limit: the rows of batches on the wire
when a connection drops go one per message after the reconnect, once.

Refusals (a PUBACK reason code >= 0x80): a final code (FINAL_REFUSALS) parks a record refused
alone; a refused batch's records are sent again one per message first; any other code hands the
rows out again after a backoff. Parking writes its file on a worker thread.

Requests (`request`) do NOT go through the outbox: an answer to "may this truck pass" is
only useful while the truck waits, so a request is sent at once when connected and fails
fast with RequestTimeoutError when not; the caller (the lane) decides offline. What the
request decided is then recorded durably as an event by its caller.

This module must never touch paho except through NetThread, delete a row before its PUBACK,
or let one bad message stop the link.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ValidationError

from agent import __version__, metrics
from agent.backoff import Backoff
from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.model import NodeConfig, address_port, public_url
from agent.contract.broker import MAX_PACKET_BYTES
from agent.contract.catalog import REQUESTS
from agent.contract.envelope import Envelope, Response, dump, new_id
from agent.contract.node import AuditHead, Health, Heartbeat, NodeState
from agent.contract.topics import Kind, Topic, node_filter
from agent.errors import InvalidAnswerError, RequestTimeoutError, StorageFullError, TopicError
from agent.health import assemble
from agent.link import net
from agent.link.batching import Outgoing, Packer, packet_bytes
from agent.link.commands import CommandDesk, Handler
from agent.outbox import Outbox, Row

log = logging.getLogger(__name__)

#: MQTT 5 PUBACK reason codes that will not change on a retry: not authorised, topic name
#: invalid, payload format invalid. Others (0x80 unspecified, 0x83 implementation specific,
#: 0x91 packet identifier in use, 0x97 quota exceeded) may pass later and are retried.
FINAL_REFUSALS = frozenset({0x87, 0x90, 0x99})


def make_client(config: NodeConfig, will: bytes, state_topic: str) -> tuple[mqtt.Client, dict[str, Any]]:
    """A configured paho client and its connect() arguments. TLS, once configured, is the only
    way in: a failed handshake is an error, never a retry over plain TCP."""
    b = config.broker
    v5 = b.mqtt_version == "5"
    client = net.BoundedClient(CallbackAPIVersion.VERSION2, client_id=config.client_id,
                               protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, clean_session=None if v5 else False,
                               reconnect_on_failure=False, max_packet_bytes=MAX_PACKET_BYTES)
    client.max_inflight_messages_set(0)  # the link bounds the window itself
    client.max_queued_messages_set(0)
    client.connect_timeout = 5.0
    if b.username is not None:
        client.username_pw_set(b.username, b.password)
    if b.tls or b.ca_file is not None:
        client.tls_set(ca_certs=str(b.ca_file) if b.ca_file else None,
                       certfile=str(b.cert_file) if b.cert_file else None,
                       keyfile=str(b.key_file) if b.key_file else None, cert_reqs=ssl.CERT_REQUIRED)
    client.will_set(state_topic, will, qos=1, retain=True)
    args: dict[str, Any] = {"host": b.host, "port": b.port, "keepalive": b.keepalive_s}
    if v5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = b.session_expiry_s
        props.MaximumPacketSize = MAX_PACKET_BYTES  # the broker drops a bigger one, never sends it
        args.update(clean_start=False, properties=props)
    return client, args


class Link:
    def __init__(self, config: NodeConfig, outbox: Outbox, *, clock: Clock = SYSTEM_CLOCK,
                 rng: random.Random | None = None):
        self._config = config
        self._outbox = outbox
        self._clock = clock
        self._site, self._node = config.node.site, config.node.id
        self._v5 = config.broker.mqtt_version == "5"
        self._backoff = Backoff(config.broker.reconnect_base_s, config.broker.reconnect_cap_s, rng or random.Random())
        self._window = config.broker.inflight
        self._packer = Packer(config.link.batch)
        self._refill = max(1, self._window // 4)
        self._state_topic = str(Topic(self._site, self._node, Kind.STATE))
        self._errors: Counter[str] = Counter()
        self._health_sources: list[Callable[[], list[str]]] = []
        self._told_degraded: list[str] | None = None  # the degraded reasons in the last retained state
        self._desk = CommandDesk(self._site, self._node, outbox, clock, self._count, config.commands, self._send_now)
        self._requests: dict[str, asyncio.Future[Response]] = {}
        self._inflight: set[int] = set()
        self._batched: set[int] = set()  # rows in flight in a batch (several rows in one message)
        self._solo: set[int] = set()  # rows to send one per message (see _on_lost)
        self._max_packet: int | None = None  # the broker's Maximum Packet Size, when its CONNACK told one
        self._too_large = 0  # records parked because no packet this broker takes can carry them
        #: publishes the broker refused for now (quota, unspecified): their rows wait this out in flight
        self._refusal_backoff = Backoff(config.broker.reconnect_base_s, config.broker.reconnect_cap_s,
                                        random.Random())
        self._retries: set[asyncio.TimerHandle] = set()  # bounded: one per refused message in the window
        self._parking: set[asyncio.Task] = set()  # Outbox.park calls running on a worker thread
        self._sent_at: dict[int, float] = {}  # rid -> monotonic time published (PUBACK latency)
        self._connected = False
        self._started = False
        self._stopping = False
        self._last_error: str | None = None
        self._refused = 0
        self._tasks: set[asyncio.Task] = set()
        self._reconnect: asyncio.TimerHandle | None = None
        self._net: net.NetThread | None = None
        self._addresses = config.broker.addresses
        self._at = 0  # index in _addresses of the broker this node is on (or tries next)
        self._held = False  # the current connection stayed up reconnect_stable_s
        self._stable: asyncio.TimerHandle | None = None
        self._started_at = clock.monotonic()
        self.connects = 0
        #: gate nodes: () -> (seq, hash) of the audit log's newest entry, sent with each heartbeat
        self.audit_head: Callable[[], tuple[int, str]] | None = None

    # -- public -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def broker(self) -> str:
        """The broker address this node is on, or tries next (no password)."""
        return public_url(self._addresses[self._at])

    def register_command(self, name: str, handler: Handler) -> None:
        self._desk.register(name, handler)

    def add_health_source(self, source: Callable[[], list[str]]) -> None:
        """`source()` returns degraded reasons of another part (a workflow's store) for health."""
        self._health_sources.append(source)

    def health(self) -> Health:
        reasons = [reason for source in self._health_sources for reason in source()]
        if not self._connected:
            reasons.append(f"not connected to the broker: {self._last_error or 'connecting'}")
        if self._refused:
            reasons.append(f"broker refused {self._refused} publish(es), parked beside the outbox: check the ACL")
        if self._too_large:
            reasons.append(f"{self._too_large} record(s) over the broker's Maximum Packet Size "
                           f"({self._max_packet} bytes), parked beside the outbox")
        return assemble(self._connected, self._outbox.stats(), self._errors, reasons, broker=self.broker)

    async def start(self, *, commands: bool = True) -> None:
        """Connect and drain the outbox. `commands=False`: commands that arrive wait (bounded,
        see agent.link.commands) until `take_commands()`."""
        if self._started:
            return
        if commands:
            self._desk.open()
        else:
            self._desk.hold()
        self._started, self._stopping = True, False
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._gone = asyncio.Event()
        client, args = make_client(self._config, dump(self._state("lost")), self._state_topic)
        self._net = net.NetThread(client, self._loop, self._deliver, args)
        self._outbox.add_listener(self._rows_committed, self._loop)
        self._net.start()
        self._connect_to(self._at)
        self._spawn(self._pump(), "portedge-link-pump")
        self._spawn(self._heartbeat(), "portedge-link-heartbeat")

    def take_commands(self) -> None:
        """Run the commands that waited since `start(commands=False)`, and those that follow."""
        self._desk.open()

    async def stop_commands(self, grace_s: float) -> None:
        """Take no more commands; let the running ones finish for up to `grace_s` (the link
        still publishes their answers until `stop()`)."""
        await self._desk.close(grace_s)

    async def stop(self) -> None:
        """Publish a clean offline state, disconnect, and end the network thread."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._stable is not None:
            self._stable.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._cancel_retries()
        await self._desk.close()
        assert self._net is not None
        if self._connected:
            sent = asyncio.Event()
            self._net.publish(self._state_topic, dump(self._state("offline")), retain=True, on_ack=sent.set)
            try:
                await asyncio.wait_for(sent.wait(), 3.0)
            except TimeoutError:
                log.warning("offline state not acknowledged before disconnect")
            self._gone.clear()
            self._net.disconnect()
            try:
                await asyncio.wait_for(self._gone.wait(), 3.0)
            except TimeoutError:
                pass
        await asyncio.to_thread(self._net.stop)
        await asyncio.sleep(0)  # let events the thread posted last be delivered
        await asyncio.gather(*self._parking, return_exceptions=True)  # the dead-letter file is written
        self._outbox.remove_listener(self._rows_committed)
        self._outbox.release(list(self._inflight))
        self._inflight.clear()
        self._connected = False
        for future in self._requests.values():
            if not future.done():
                future.set_exception(RequestTimeoutError("the link stopped"))
        self._started = False

    async def request(self, name: str, body: BaseModel, timeout: float) -> Response:
        """agent.interfaces.Requester: publish req/<name>, await rsp/<name> with the same
        correlation id. Fails fast when not connected (see the module docstring)."""
        if not self._connected or self._net is None:
            self._count("request_not_connected")
            raise RequestTimeoutError(f"{name}: not connected to the broker ({self._last_error or 'connecting'})")
        correlation = new_id()
        reply_to = str(Topic(self._site, self._node, Kind.RSP, name))
        envelope = Envelope(node=self._node, type=name, body=body, correlation_id=correlation, reply_to=reply_to,
                            ts=self._clock.now())
        props = None
        if self._v5:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = correlation.encode()
            props.ResponseTopic = reply_to
            props.MessageExpiryInterval = max(1, int(timeout))
        future: asyncio.Future[Response] = self._loop.create_future()
        self._requests[correlation] = future
        try:
            self._net.publish(str(Topic(self._site, self._node, Kind.REQ, name)), dump(envelope), properties=props)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._count("request_timeout")
            raise RequestTimeoutError(f"{name}: no answer from the platform within {timeout:g} s") from None
        finally:
            self._requests.pop(correlation, None)

    # -- internals --------------------------------------------------------------------------

    def _count(self, kind: str) -> None:
        self._errors[kind] += 1

    def _spawn(self, coro, name: str) -> None:
        task = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _state(self, status: Literal["online", "offline", "lost"]) -> Envelope[NodeState]:
        """The retained state message: an envelope like every other message (the contract's
        `state` channel), with seq 0 because it is not an outbox record (see the docs)."""
        depth = self._outbox.stats().depth if status != "lost" else 0
        body = NodeState(status=status, role=self._config.node.role, version=__version__,
                         devices=[d.name for d in self._config.devices], outbox_depth=depth,
                         health=self.health() if status == "online" else None, since=self._clock.now())
        return Envelope[NodeState](node=self._node, type="state", body=body, ts=self._clock.now())

    def _rows_committed(self) -> None:
        """On the loop after a commit that stored rows (in the same hand-over that answers its
        puts): wake the pump."""
        self._wake.set()

    def _deliver(self, events: list[net.NetEvent]) -> None:
        for event in events:
            try:
                self._handle(event)
            except Exception:  # noqa: BLE001 - one bad event must not stop the others
                log.exception("link event %s failed", type(event).__name__)

    def _handle(self, event: net.NetEvent) -> None:
        match event:
            case net.Acked(rids):
                self._acked(rids)
            case net.Delivered(callback):
                callback()
            case net.Received(topic, payload, props):
                self._on_message(topic, payload, props)
            case net.Connected(session_present, max_packet):
                self._on_connected(session_present, max_packet)
            case net.Disconnected(reason):
                self._on_lost(f"connection lost ({reason})")
            case net.PacketTooLarge(size, limit):
                self._count("packet_too_large")
                log.error("broker %s sent a packet of %d bytes, over this node's limit of %d: dropped the "
                          "connection before reading it", self.broker, size, limit)
            case net.ConnectFailed(reason):
                self._count("connect_failed")
                self._last_error = reason
                log.error("broker %s: %s", self.broker, reason)
                self._on_lost(None)
            case net.PublishRefused(rids, reason, code):
                self._count("publish_refused")
                if rids:
                    self._refused_rows(rids, reason, code)
                else:
                    log.error("broker refused a publish: %s", reason)

    def _refused_rows(self, rids: tuple[int, ...], reason: str, code: int) -> None:
        """A PUBACK with a failure reason code for these rows. Only a final code parks, and only
        a record refused alone: a batch refused for good is tried again one record per message
        (one bad record must not set its neighbours aside). Any other code (quota exceeded,
        unspecified, implementation specific) hands the rows out again after a backoff."""
        self._batched.difference_update(rids)
        for rid in rids:
            self._sent_at.pop(rid, None)
        if code in FINAL_REFUSALS and len(rids) == 1:
            # resending it would hold a window slot forever and come back first after every reconnect
            self._refused += 1
            self._park(rids, f"refused by the broker: {reason}")
            return
        if len(rids) > 1:
            self._solo.update(rids)
        if code in FINAL_REFUSALS:
            log.warning("broker refused a batch of %d records (%s): sending them one per message", len(rids), reason)
            self._retry(rids)
            return
        self._count("publish_refused_for_now")
        delay = self._refusal_backoff.next_delay()
        log.warning("broker refused %d record(s) for now (%s): sending again in %.2f s", len(rids), reason, delay)
        handle = self._loop.call_later(delay, self._retry, rids)
        self._retries.add(handle)

    def _retry(self, rids: tuple[int, ...]) -> None:
        """Hand refused rows out again (same id, same seq); they stay in flight until now."""
        self._retries = {h for h in self._retries if not h.cancelled() and h.when() > self._loop.time()}
        if not self._inflight.issuperset(rids):
            return  # the connection dropped meanwhile: _on_lost released them
        self._inflight.difference_update(rids)
        self._outbox.release(list(rids))
        self._wake.set()

    def _cancel_retries(self) -> None:
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()

    def _on_connected(self, session_present: bool, max_packet: int | None = None) -> None:
        assert self._net is not None
        self._connected = True
        self._max_packet = max_packet
        self.connects += 1
        self._last_error = None
        self._held = False
        if self._stable is not None:
            self._stable.cancel()
        self._stable = self._loop.call_later(self._config.broker.reconnect_stable_s, self._connection_held)
        self._net.subscribe([node_filter(self._site, self._node, Kind.CMD), node_filter(self._site, self._node, Kind.RSP)])
        state = self._state("online")
        self._told_degraded = state.body.health.degraded if state.body.health else None
        self._net.publish(self._state_topic, dump(state), retain=True)
        self._outbox.save_health(self.health().model_dump_json())
        self._wake.set()
        log.info("connected to %s (session present: %s)", self.broker, session_present)

    def _connection_held(self) -> None:
        """The connection stayed up reconnect_stable_s: only now does the backoff start over."""
        self._stable = None
        if self._connected:
            self._held = True
            self._backoff.reset()

    def _connect_to(self, at: int) -> None:
        assert self._net is not None
        self._at = at
        url = self._addresses[at]
        self._net.connect(urlsplit(url).hostname, address_port(url))

    def _on_lost(self, reason: str | None) -> None:
        was = self._connected
        self._connected = False
        if self._stable is not None:
            self._stable.cancel()
            self._stable = None
        # a batch on the wire when the connection dropped may be what dropped it (a broker that
        # did not tell its Maximum Packet Size, MQTT 3.1.1): its rows go one per message next time
        self._solo = {rid for rid in self._inflight if rid in self._batched or rid in self._solo}
        self._cancel_retries()  # their rows are in flight: released just below
        self._batched.clear()
        if self._inflight:
            self._outbox.release(list(self._inflight))  # the outbox hands them out again, same id
            self._inflight.clear()
        self._sent_at.clear()
        self._gone.set()
        if reason and was and not self._stopping:
            self._count("disconnects")
            self._last_error = reason
            log.warning("broker %s: %s", self.broker, reason)
        if was or self.connects == 0:  # so `portedge status` tells why, without the link running
            try:
                self._outbox.save_health(self.health().model_dump_json())
            except Exception:  # noqa: BLE001 - health bookkeeping must never stop a reconnect
                log.debug("could not save health", exc_info=True)
        if self._stopping or (self._reconnect is not None and not self._reconnect.cancelled()
                              and self._reconnect.when() > self._loop.time()):
            return
        # failover: a connection that held is tried again where it was; anything else moves on
        at = self._at if self._held else (self._at + 1) % len(self._addresses)
        self._held = False
        delay = self._backoff.next_delay()
        self._reconnect = self._loop.call_later(delay, self._reconnect_now, at)

    def _reconnect_now(self, at: int) -> None:
        self._reconnect = None
        if not self._stopping and self._net is not None:
            self._connect_to(at)

    def _acked(self, rids: list[int]) -> None:
        if not rids:
            return
        self._inflight.difference_update(rids)
        self._batched.difference_update(rids)
        if self._solo:
            self._solo.difference_update(rids)
        if self._retries:
            self._refusal_backoff.reset()
        now = self._clock.monotonic()
        for rid in rids:
            sent = self._sent_at.pop(rid, None)
            if sent is not None:
                metrics.PUBACK_SECONDS.observe(now - sent)
        self._outbox.ack(rids)
        self._wake.set()

    def _send_now(self, topic: str, payload: bytes, correlation_id: str) -> bool:
        """Publish without the outbox (the command desk's busy answers). False when offline."""
        if not self._connected or self._net is None:
            return False
        props = None
        if self._v5:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = correlation_id.encode()
        self._net.publish(topic, payload, properties=props)
        return True

    def _topic_of(self, row: Row) -> str:
        return row.topic_for(self._site, self._node)

    def _properties(self, row: Row) -> Properties | None:
        if not self._v5 or not (row.correlation_id or row.reply_to or row.expires):
            return None
        props = Properties(PacketTypes.PUBLISH)
        if row.correlation_id:
            props.CorrelationData = row.correlation_id.encode()
        if row.reply_to:
            props.ResponseTopic = row.reply_to
        if row.expires:
            props.MessageExpiryInterval = max(1, int(row.expires - self._clock.now().timestamp()))
        return props

    async def _pump(self) -> None:
        while not self._stopping:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands
            # with a wake-up, and stop() then waited for this task forever
            try:
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            while self._connected and self._net is not None:
                room = self._window - len(self._inflight)
                if room <= 0 or (self._inflight and room < self._refill):
                    break  # refill in chunks: one query and one hand-over per chunk, not per ack
                rows = self._outbox.next_batch(room)
                if not rows:
                    break
                self._inflight.update(r.rid for r in rows)
                sent = self._clock.monotonic()
                self._sent_at.update((r.rid, sent) for r in rows)  # bounded by the window, like _inflight
                metrics.PUBLISHES.inc(len(rows))
                messages = self._packer.plan(rows, self._topic_of, self._properties, max_packet=self._max_packet,
                                             alone=self._solo)
                if self._max_packet is not None:
                    messages = self._fitting(messages, self._max_packet)
                for m in messages:
                    if len(m.rids) > 1:
                        self._batched.update(m.rids)
                self._net.publish_rows(messages)

    def _fitting(self, messages: list[Outgoing], limit: int) -> list[Outgoing]:
        """`messages` less the lone records no packet this broker takes can carry: those are
        parked with the reason (sent, the broker would drop the connection, and the record would
        come back first after every reconnect)."""
        fit: list[Outgoing] = []
        for m in messages:
            size = packet_bytes(m.topic, len(m.payload), m.properties)
            if size <= limit or len(m.rids) > 1:  # the packer sizes batches below the limit
                fit.append(m)
                continue
            self._too_large += 1
            self._count("record_too_large")
            self._park(m.rids, f"{size} bytes on the wire, over the broker's Maximum Packet Size of {limit}: "
                               "it can never be sent to this broker")
        return fit

    def _park(self, rids: tuple[int, ...] | list[int], reason: str) -> None:
        """Set these rows aside beside the outbox for an operator (Outbox.park): never sent again."""
        self._inflight.difference_update(rids)
        self._batched.difference_update(rids)
        self._solo.difference_update(rids)
        for rid in rids:
            self._sent_at.pop(rid, None)
        # the outbox keeps them handed out (never sent again); the dead-letter file is written
        # and fsync'd on a worker thread, not on this loop, and only then are they deleted
        task = self._loop.create_task(self._park_off_loop(list(rids), reason), name="portedge-link-park")
        self._parking.add(task)
        task.add_done_callback(self._parking.discard)

    async def _park_off_loop(self, rids: list[int], reason: str) -> None:
        try:
            where = await asyncio.to_thread(self._outbox.park, rids, reason)
        except Exception:  # noqa: BLE001 - the rows stay stored and go again after a reconnect
            log.exception("could not park %d record(s) (%s)", len(rids), reason)
            return
        log.error("%d record(s) parked in %s: %s", len(rids), where, reason)
        self._wake.set()

    async def _heartbeat(self) -> None:
        every = self._config.node.heartbeat_s
        while True:
            await asyncio.sleep(every)
            health = self.health()
            beat = Heartbeat(uptime_s=max(0.0, self._clock.monotonic() - self._started_at), health=health,
                             audit=self._audit_head())
            try:
                await self._outbox.aput("heartbeat", beat, "telemetry", timeout=every)
            except StorageFullError as err:
                self._count("heartbeat_not_stored")
                log.warning("heartbeat not stored: %s", err)
            self._outbox.save_health(health.model_dump_json())
            if self._connected and self._net is not None and health.degraded != self._told_degraded:
                # the retained state travels without the outbox: a full or removed store is told
                # to the platform even when the heartbeat cannot be stored
                state = self._state("online")
                self._told_degraded = state.body.health.degraded if state.body.health else None
                self._net.publish(self._state_topic, dump(state), retain=True)

    def _audit_head(self) -> AuditHead | None:
        if self.audit_head is None:
            return None
        seq, digest = self.audit_head()
        return AuditHead(seq=seq, hash=digest)

    def _on_message(self, topic_text: str, payload: bytes, props: dict[str, Any]) -> None:
        try:
            topic = Topic.parse(topic_text)
        except TopicError:
            self._count("unexpected_topic")
            return
        if topic.node != self._node or topic.site != self._site:
            self._count("unexpected_topic")
            return
        if topic.kind is Kind.CMD:
            self._desk.submit(topic.name or "", payload, props)
        elif topic.kind is Kind.RSP:
            self._on_response(topic.name or "", payload)
        else:
            self._count("unexpected_topic")

    def _on_response(self, name: str, payload: bytes) -> None:
        spec = REQUESTS.get(name)
        model = Response[spec.answer] if spec is not None and spec.answer is not None else Response[dict]
        try:
            response = model.model_validate_json(payload)
        except (ValidationError, ValueError) as err:
            self._count("invalid_response")
            log.warning("invalid %s response dropped: %s", name, str(err)[:300])
            try:
                correlation = json.loads(payload).get("correlation_id")
            except (ValueError, AttributeError):
                return
            future = self._requests.get(correlation) if isinstance(correlation, str) else None
            if future is not None and not future.done():
                future.set_exception(InvalidAnswerError(f"{name}: the platform's answer is invalid"))
            return
        future = self._requests.get(response.correlation_id)
        if future is None or future.done():
            self._count("late_response")  # answered after its timeout, or not ours
            return
        future.set_result(response)
