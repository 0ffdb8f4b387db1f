"""One simulated node of the fleet: a light agent speaking the real contract over real MQTT.

Each node has its own client id, an MQTT 5 persistent session (clean_start=False, session
expiry), a retained birth `state` and a retained last will, a per-node `seq`, QoS 1 publishes of
lane or PDA traffic plus heartbeats, and a subscription to its `cmd/+`: every command gets a
Response on its `reply_to`, so the platform can time the platform -> node path; it is checked
by the agent's own command checks (agent.link.commands `admit`, `timely`). After a lost
connection it reconnects with exponential backoff and full jitter (agent.backoff.Backoff,
the agent's own helper).

What it deliberately is not: a node has no SQLite outbox. A thousand writer threads would
measure SQLite, not the link; durability is proven by the agent's own tests. A record generated
while the node is offline is counted as `skipped_offline`, not queued. It must never block: all
its work runs on the fleet's single PollLoop thread.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel

from agent import __version__
from agent.backoff import Backoff
from agent.config.model import CommandsSection
from agent.contract.envelope import Envelope, ErrorBody, Response, new_id, peek_fields
from agent.contract.node import NodeState
from agent.contract.topics import Kind, Topic, node_filter
from agent.link.commands import Refusal, admit, timely
from simulators.fleet import traffic
from simulators.fleet.loop import PollLoop

MAX_TTL_S = CommandsSection().max_ttl_s  # the agent's default: commands may expire this far ahead


@dataclass
class NodeSettings:
    host: str
    port: int
    site: str = "fleet"
    keepalive_s: int = 30
    session_expiry_s: int = 3600
    mqtt_version: str = "5"  # "3.1.1" for brokers without MQTT 5 (RabbitMQ 3.10's plugin)
    inflight: int = 20
    gate_every_s: float = 30.0
    task_every_s: float = 20.0
    heartbeat_every_s: float = 30.0
    reconnect_base_s: float = 0.5
    reconnect_cap_s: float = 10.0
    ramp_s: float = 1.0  # first connects are spread over this long, so the start is not a storm


@dataclass
class Counters:
    """Shared by all nodes of one worker (one thread: no lock)."""

    published: int = 0
    acked: int = 0
    skipped_offline: int = 0
    commands: int = 0
    answered: int = 0
    refused: int = 0
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    puback_ms: list[float] = field(default_factory=list)


def _envelope_cls(body: BaseModel) -> type[Envelope]:
    return Envelope[type(body)]  # pydantic caches each parametrisation


class FleetNode:
    def __init__(self, loop: PollLoop, node: str, role: str, settings: NodeSettings, rng: random.Random,
                 counters: Counters):
        self.node, self.role = node, role
        self._loop, self._s, self._rng, self._n = loop, settings, rng, counters
        self._seq = 0
        self._sent: dict[int, float] = {}
        self._backoff = Backoff(settings.reconnect_base_s, settings.reconnect_cap_s, rng)
        self._retry = None
        self._started = time.monotonic()
        self._stopping = False
        self._task_number, self._task_step = 0, 0
        self.connected = False
        self.connected_since: float | None = None  # wall time of the current connection
        self.devices = traffic.LANE_DEVICES if role == "gate" else traffic.PDA_DEVICES
        self.state_topic = str(Topic(settings.site, node, Kind.STATE))
        self.cmd_filter = node_filter(settings.site, node, Kind.CMD)

        v5 = settings.mqtt_version == "5"
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=node, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                        reconnect_on_failure=False, **({} if v5 else {"clean_session": False}))
        c.max_inflight_messages_set(settings.inflight)
        c.connect_timeout = 2.0
        c.will_set(self.state_topic, self._state("lost"), qos=1, retain=True)
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = settings.session_expiry_s
            c.connect_async(settings.host, settings.port, settings.keepalive_s, clean_start=False, properties=props)
        else:
            c.connect_async(settings.host, settings.port, settings.keepalive_s)
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        c.on_message, c.on_publish = self._on_message, self._on_publish
        loop.attach(c)
        self.client = c

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        s, rng = self._s, self._rng
        self._retry = self._loop.call_later(rng.uniform(0, s.ramp_s), self._attempt)
        self._loop.call_later(s.ramp_s + rng.uniform(0, s.heartbeat_every_s), self._heartbeat)
        if self.role == "gate":
            self._loop.call_later(s.ramp_s + rng.uniform(0, s.gate_every_s), self._truck_arrives)
        else:
            self._loop.call_later(s.ramp_s + rng.uniform(0, s.task_every_s), self._task_step_done)

    def stop(self) -> None:
        """Clean shutdown: retained `offline` state, then DISCONNECT (no last will)."""
        self._stopping = True
        if self._retry is not None:
            self._retry.cancel()
        if self.connected:
            self.client.publish(self.state_topic, self._state("offline"), qos=1, retain=True)
            self.client.disconnect()

    def force_close(self) -> None:
        sock = self.client.socket()
        if sock is not None:
            self._loop.sockets.forget(sock)
            sock.close()

    def _attempt(self) -> None:
        self._retry = None
        if self._stopping:
            return
        try:
            self.client.reconnect()
        except OSError:
            self._n.connect_failures += 1
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self._retry is None and not self._stopping:
            self._retry = self._loop.call_later(self._backoff.next_delay(), self._attempt)

    def _on_connect(self, client, _ud, flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self._n.connect_failures += 1
            return  # the broker closes the socket; _on_disconnect schedules the retry
        self.connected, self.connected_since = True, time.time()
        self._backoff.reset()
        self._n.connects += 1
        if not flags.session_present:
            client.subscribe(self.cmd_filter, qos=1)
        client.publish(self.state_topic, self._state("online"), qos=1, retain=True)

    def _on_disconnect(self, _client, _ud, _flags, _reason_code, _props) -> None:
        if self.connected:
            self._n.disconnects += 1
        self.connected, self.connected_since = False, None
        self._schedule_retry()

    # -- publishing -----------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The last seq this node published (0: none yet)."""
        return self._seq

    def _state(self, status: str) -> bytes:
        body = NodeState(status=status, role=self.role, version=__version__, devices=list(self.devices),
                         since=datetime.now(UTC))
        return _envelope_cls(body)(node=self.node, type="state", body=body).model_dump_json().encode()

    def publish(self, name: str, body: BaseModel) -> None:
        # after stop() the DISCONNECT is queued: anything behind it would never leave (seen as
        # a tail of "missing" seqs before this check)
        if not self.connected or self._stopping:
            self._n.skipped_offline += 1
            return
        self._seq += 1
        env = _envelope_cls(body)(node=self.node, seq=self._seq, type=name, body=body)
        info = self.client.publish(str(Topic(self._s.site, self.node, Kind.EVT, name)), env.model_dump_json(), qos=1)
        self._sent[info.mid] = time.monotonic()
        self._n.published += 1

    def _on_publish(self, _client, _ud, mid, _reason_code, _props) -> None:
        sent = self._sent.pop(mid, None)
        if sent is not None:
            self._n.acked += 1
            self._n.puback_ms.append((time.monotonic() - sent) * 1000)

    def _after(self, delay_s: float, fn) -> None:
        if not self._stopping:
            self._loop.call_later(delay_s, fn)

    def _heartbeat(self) -> None:
        self.publish("heartbeat", traffic.heartbeat(time.monotonic() - self._started, self.connected))
        self._after(self._s.heartbeat_every_s, self._heartbeat)

    def _truck_arrives(self) -> None:
        """A truck through the lane: loop occupied, then the transaction and the barrier opening,
        then the barrier closing behind it; 3-6 s in all, as a real lane with an OCR portal."""
        tx, started = new_id(), datetime.now(UTC)
        self.publish("lane_event", traffic.lane_event(self.node, "loop", "occupied", tx))

        def decided() -> None:
            self.publish("gate_transaction", traffic.gate_transaction(self._rng, self.node, tx, started))
            self.publish("lane_event", traffic.lane_event(self.node, "barrier", "opening", tx))

        def passed() -> None:
            self.publish("lane_event", traffic.lane_event(self.node, "barrier", "closed", tx))

        self._after(self._rng.uniform(1.0, 3.0), decided)
        self._after(self._rng.uniform(4.0, 6.0), passed)
        self._after(self._s.gate_every_s * self._rng.uniform(0.5, 1.5), self._truck_arrives)

    def _task_step_done(self) -> None:
        if self._task_step >= len(traffic.TASK_STEPS):
            self._task_number, self._task_step = self._task_number + 1, 0
        self._task_step += 1
        task_id = traffic.task_id_for(self.node, self._task_number)
        self.publish("task_update", traffic.task_update(self._rng, task_id, self._task_step, f"D{self.node[-4:]}"))
        self._after(self._s.task_every_s * self._rng.uniform(0.5, 1.5), self._task_step_done)

    # -- commands -------------------------------------------------------------------------

    def _on_message(self, client, _ud, msg) -> None:
        self._n.commands += 1
        name = msg.topic.rsplit("/", 1)[-1]
        try:
            raw = json.loads(msg.payload)
        except ValueError:
            self._n.refused += 1
            return  # no reply_to to answer on: counted only
        seen = peek_fields(raw)
        reply_to, correlation_id = seen.get("reply_to"), seen.get("correlation_id")
        if not reply_to or not correlation_id:
            self._n.refused += 1
            return
        error = self._check(name, raw)
        if error is None:
            rsp = Response(node=self.node, type=name, correlation_id=correlation_id, ok=True)
            self._n.answered += 1
        else:
            rsp = Response(node=self.node, type=name, correlation_id=correlation_id, ok=False, error=error)
            self._n.refused += 1
        client.publish(reply_to, rsp.model_dump_json(), qos=1)

    def _check(self, name: str, raw: dict) -> ErrorBody | None:
        """The agent's own checks (agent.link.commands), without its outbox: a fleet node keeps
        no answers, so there is no duplicate or lost-answers check."""
        command = admit(name, raw, self.node)
        refusal = command if isinstance(command, Refusal) else timely(command, datetime.now(UTC), MAX_TTL_S)
        if refusal is None:
            return None
        return ErrorBody.model_validate({"code": refusal.code, "reason": refusal.reason})
