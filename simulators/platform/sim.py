"""The platform simulator: the central port platform's side of the contract, on a real broker.

It records everything nodes send in a `Ledger` (dedupe by id, seq audit; a batch of records
is unpacked and each record recorded on its own, agent.contract.batch), answers gate
verifications from pre-advice data and driver logins from a badge list, and sends commands
(permits, tasks, cancels, remote opens) with expiry, correlation id and reply topic. Its
answer delay and failure rate are configurable, and it can go silent (receives, never answers)
to play "platform unreachable". One paho network thread plus one scheduler thread; both stop
with `stop()`.

Scaling out (`share_group`): N simulators with the same group consume records, requests and
answers through MQTT 5 shared subscriptions (`$share/<group>/...`), so the broker hands each
message to one of them; they dedupe by record id in one shared ledger (a SQLite file). The
retained `state` is subscribed directly by each (a broker never sends retained messages to a
share). Each keeps a persistent session under a stable client id: mosquitto keeps routing a
dead member's share into its session, which its replacement (same client id) then drains.

Liveness (`liveness`): a node is lost when its heartbeats stop for `lost_after_s`, whatever
its retained state says. The will is not enough: a broker node that dies takes the wills of
its clients with it (measured on RabbitMQ and ejabberd clusters), and a hung node keeps its
connection open.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ValidationError

from agent.clock import SYSTEM_CLOCK, Clock
from agent.contract import topics
from agent.contract.batch import Batch, is_batch
from agent.contract.catalog import BY_TYPE
from agent.contract.envelope import Command, ErrorBody, Response, new_id
from agent.contract.gate import Permit, PermitsSync, VerifyAnswer, VerifyRequest
from agent.contract.personnel import PersonVerifyAnswer, PersonVerifyRequest
from agent.contract.tasks import DriverLogin, DriverLoginAnswer, Task, TaskCancel
from agent.contract.topics import Kind, Topic
from simulators.platform.ledger import Ledger

log = logging.getLogger(__name__)


@dataclass
class Preadvice:
    """What the platform knows in advance about a truck: its plate, boxes and business."""

    plate: str
    containers: list[str]
    type: str = "DI"
    yard_position: str = ""
    allow: bool = True
    reason: str = ""
    driver_key: str | None = None  # the driver bound to the appointment (their person key), if any


@dataclass
class PlatformStats:
    received: Counter = field(default_factory=Counter)
    invalid: Counter = field(default_factory=Counter)
    answered: Counter = field(default_factory=Counter)
    failed_on_purpose: int = 0
    ignored_while_silent: int = 0


def _epoch_of(ts: object) -> float:
    if not isinstance(ts, str):
        return 0.0
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return 0.0


class _Scheduler:
    """Runs callables at a monotonic time on one thread (answer delays without a Timer per answer)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._counter = itertools.count()
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="platform-sim-scheduler", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), next(self._counter), fn))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:  # a broken answer must not kill the simulator
                log.exception("platform simulator: scheduled call failed")

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()
        self._thread.join(5)


class PlatformSim:
    def __init__(
        self,
        url: str,
        site: str,
        *,
        ledger: Ledger | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        answer_delay_s: float = 0.0,
        failure_rate: float = 0.0,
        client_id: str | None = None,
        mqtt_version: str = "5",
        share_group: str | None = None,
        lost_after_s: float = 90.0,
    ):
        self.url = url
        self.site = site
        self.ledger = ledger or Ledger()
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.answer_delay_s = answer_delay_s
        self.failure_rate = failure_rate
        self.silent = False
        self.stats = PlatformStats()
        self.preadvice: dict[str, Preadvice] = {}
        self.drivers: dict[str, tuple[str, str]] = {}
        self.area_passes: dict[str, set[str]] = {}  # person key (HMAC, never a clear number) -> areas
        self.blacklist: set[str] = set()
        self.responses: dict[str, dict] = {}
        self.node_states: dict[str, dict] = {}
        if share_group is not None and (mqtt_version != "5" or not share_group or set("/+#") & set(share_group)):
            raise ValueError("a share group needs MQTT 5 and a name without / + #")
        self.share_group = share_group
        self.lost_after_s = lost_after_s
        self._response_cv = threading.Condition()
        self._connected = threading.Event()
        self._protocol = mqtt.MQTTv5 if mqtt_version == "5" else mqtt.MQTTv311
        # one session per simulator run: a persistent session must not hand this run the
        # records a previous run left queued on the same broker
        client_id = client_id or f"platform-sim-{new_id()[-10:].lower()}"
        # a persistent session, as a real platform consumer has: records a node publishes while
        # we reconnect (a broker restart) are queued for us instead of lost to us
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=self._protocol,
                                   **({} if self._protocol == mqtt.MQTTv5 else {"clean_session": False}))
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._subscribe_mid: int | None = None
        self._client.on_disconnect = lambda *a: self._connected.clear()
        self._client.reconnect_delay_set(0.1, 2.0)
        self._scheduler: _Scheduler | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> PlatformSim:
        parts = urlsplit(self.url)
        self._scheduler = _Scheduler()
        if self._protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
            self._client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=15,
                                       clean_start=False, properties=props)
        else:
            self._client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=15)
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self.stop()
            raise ConnectionError(f"platform simulator could not connect to {self.url}")
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        if self._scheduler:
            self._scheduler.stop()
            self._scheduler = None

    def __enter__(self) -> PlatformSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.warning("platform simulator: connect refused: %s", reason_code)
            return
        sock = client.socket()
        if sock is not None:  # answer at once: no Nagle delay on the platform's side either
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        share = f"$share/{self.share_group}/" if self.share_group else ""
        filters = [(topics.site_filter(self.site, Kind.STATE), 1)]  # retained: never sent through a share
        filters += [(share + topics.site_filter(self.site, kind), 1) for kind in (Kind.EVT, Kind.REQ, Kind.RES)]
        _, self._subscribe_mid = client.subscribe(filters)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None) -> None:
        # started = subscribed: a record published after start() returns reaches this platform
        if mid == self._subscribe_mid:
            if any(getattr(rc, "is_failure", False) for rc in reason_codes):
                log.error("platform simulator: the broker refused a subscription: %s", reason_codes)
            self._connected.set()

    # -- liveness -------------------------------------------------------------------------
    def liveness(self, node: str, now: float | None = None) -> str:
        """online, offline (it said goodbye), lost (its will, or heartbeats silent for
        `lost_after_s`) or unknown (never heard of). Heartbeats count wherever in the shared
        ledger they landed, so every member of a share group gives the same answer."""
        state = (self.node_states.get(node) or {}).get("body") or {}
        last_beat = self.ledger.last_heard(node)
        if state.get("status") == "offline" and (last_beat is None or _epoch_of(state.get("since")) >= last_beat):
            return "offline"
        if last_beat is None:
            return {"online": "online", "lost": "lost"}.get(state.get("status", ""), "unknown")
        silent = (time.time() if now is None else now) - last_beat
        if silent > self.lost_after_s or state.get("status") == "lost" and _epoch_of(state.get("since")) >= last_beat:
            return "lost"
        return "online"

    def lost_nodes(self) -> list[str]:
        known = set(self.node_states) | set(self.ledger.nodes())
        return sorted(n for n in known if self.liveness(n) == "lost")

    # -- receiving ------------------------------------------------------------------------
    def _on_message(self, client, userdata, msg) -> None:
        try:
            topic = Topic.parse(msg.topic)
            payload = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError) as err:
            self.stats.invalid["unparseable"] += 1
            log.warning("platform simulator: unparseable message on %s: %s", msg.topic, str(err))
            return
        if topic.kind is Kind.STATE:
            if payload:
                self.node_states[topic.node] = payload
            return
        name = topic.name or ""
        self.stats.received[f"{topic.kind}/{name}"] += 1
        if topic.kind is Kind.RES:
            with self._response_cv:
                self.responses[payload.get("correlation_id", "")] = payload
                self._response_cv.notify_all()
            if isinstance(payload, dict) and {"id", "node", "type"} <= payload.keys():
                self.ledger.add(payload, msg.topic, time.time())  # responses carry seq too: no false gaps
            return
        spec = BY_TYPE.get(name)
        if spec is None:
            self.stats.invalid[f"unknown:{name}"] += 1
            return
        batched = topic.kind is Kind.EVT and is_batch(payload)
        try:
            (Batch[spec.body] if batched else spec.wrapper).model_validate(payload)
        except ValidationError as err:
            self.stats.invalid[name] += 1
            log.warning("platform simulator: %s failed the contract: %s", name, err.errors()[:2])
            return
        if batched:
            self.stats.received["batches"] += 1
        at = time.time()
        for record in payload["batch"] if batched else [payload]:
            if not self.ledger.add(record, msg.topic, at):
                self.stats.received["duplicate"] += 1
        if topic.kind is Kind.REQ:  # a repeated request is answered again (idempotent)
            self._answer_later(topic, payload)

    def _answer_later(self, topic: Topic, request: dict) -> None:
        if self.silent:
            self.stats.ignored_while_silent += 1
            return
        if self.failure_rate and self.rng.random() < self.failure_rate:
            self.stats.failed_on_purpose += 1
            return
        assert self._scheduler is not None
        self._scheduler.call_later(self.answer_delay_s, lambda: self._answer(topic, request))

    def _answer(self, topic: Topic, request: dict) -> None:
        if self.silent:  # went silent while the answer was pending
            self.stats.ignored_while_silent += 1
            return
        name = topic.name or ""
        body: BaseModel | None
        error = None
        try:
            if name == "gate_verify":
                body = self.decide(VerifyRequest.model_validate(request["body"]))
            elif name == "driver_login":
                body = self.check_login(DriverLogin.model_validate(request["body"]))
            elif name == "person_verify":
                body = self.decide_person(PersonVerifyRequest.model_validate(request["body"]))
            else:
                body, error = None, ErrorBody(code="unknown_command", reason=f"no handler for {name}")
        except ValidationError as err:
            body, error = None, ErrorBody(code="invalid_schema", reason=str(err)[:500])
        response = Response[Any](
            node="platform", type=name, correlation_id=request.get("correlation_id") or request["id"],
            ok=error is None, body=body.model_dump(mode="json") if body else None, error=error,
        )
        reply_to = request.get("reply_to") or str(Topic(topic.site, topic.node, Kind.RSP, name))
        self._client.publish(reply_to, response.model_dump_json(), qos=1)
        self.stats.answered[name] += 1

    # -- the platform's business ----------------------------------------------------------
    def add_preadvice(self, advice: Preadvice) -> None:
        self.preadvice[advice.plate] = advice

    def add_driver(self, badge: str, pin: str, name: str) -> None:
        self.drivers[badge] = (pin, name)

    def decide(self, req: VerifyRequest) -> VerifyAnswer:
        advice = self.preadvice.get(req.plate or "")
        if advice is None:
            return VerifyAnswer(transaction_id=req.transaction_id, allow=False, reason="no pre-advice for this truck")
        missing = sorted(set(advice.containers) - set(req.containers))
        if missing:
            return VerifyAnswer(transaction_id=req.transaction_id, allow=False,
                                reason=f"container(s) not read: {', '.join(missing)}")
        if advice.driver_key is not None and (req.driver is None or req.driver.person_key != advice.driver_key):
            return VerifyAnswer(transaction_id=req.transaction_id, allow=False, reason="driver not on the appointment")
        if not advice.allow:
            return VerifyAnswer(transaction_id=req.transaction_id, allow=False, reason=advice.reason or "refused")
        return VerifyAnswer(transaction_id=req.transaction_id, allow=True, type=advice.type,
                            ticket=f"Go to {advice.yard_position}" if advice.yard_position else "Proceed",
                            yard_position=advice.yard_position)

    def decide_person(self, req: PersonVerifyRequest) -> PersonVerifyAnswer:
        if req.person_key in self.blacklist:
            return PersonVerifyAnswer(pass_id=req.pass_id, allow=False, reason="blacklisted")
        if req.area not in self.area_passes.get(req.person_key, set()):
            return PersonVerifyAnswer(pass_id=req.pass_id, allow=False, reason=f"no area pass for {req.area}")
        return PersonVerifyAnswer(pass_id=req.pass_id, allow=True)

    def check_login(self, req: DriverLogin) -> DriverLoginAnswer:
        known = self.drivers.get(req.badge)
        if known is None or known[0] != req.pin:
            return DriverLoginAnswer(badge=req.badge, ok=False, reason="unknown badge or wrong PIN")
        return DriverLoginAnswer(badge=req.badge, ok=True, name=known[1])

    # -- commands to nodes ----------------------------------------------------------------
    def send_command(self, node: str, type_: str, body: BaseModel | dict, *, ttl_s: float = 30.0,
                     expires_in_s: float | None = None, command_id: str | None = None) -> str:
        """Publish a command (QoS 1) and return its correlation id; see `wait_response`."""
        spec = BY_TYPE[type_]
        correlation_id = new_id()
        now = self.clock.now()
        command = Command[spec.body](
            id=command_id or new_id(), node=node, ts=now, type=type_,
            body=body if isinstance(body, BaseModel) else spec.body.model_validate(body),
            reply_to=str(Topic(self.site, node, Kind.RES, type_)), correlation_id=correlation_id,
            expires_at=now + timedelta(seconds=ttl_s if expires_in_s is None else expires_in_s),
        )
        self.publish_raw(node, type_, command.model_dump_json().encode())
        return correlation_id

    def publish_raw(self, node: str, type_: str, payload: bytes) -> None:
        """Send any bytes as a command (for fault injection: broken JSON, wrong schema, ...)."""
        self._client.publish(str(Topic(self.site, node, Kind.CMD, type_)), payload, qos=1)

    def wait_response(self, correlation_id: str, timeout: float = 10.0) -> dict | None:
        deadline = time.monotonic() + timeout
        with self._response_cv:
            while correlation_id not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._response_cv.wait(left)
            return self.responses[correlation_id]

    def push_permits(self, node: str, version: int, permits: list[Permit], ttl_s: float = 60.0) -> str:
        return self.send_command(node, "permits_sync", PermitsSync(version=version, permits=permits), ttl_s=ttl_s)

    def assign_task(self, node: str, task: Task, ttl_s: float = 300.0) -> str:
        return self.send_command(node, "task_assign", task, ttl_s=ttl_s)

    def cancel_task(self, node: str, task_id: str, reason: str = "cancelled", note: str = "") -> str:
        return self.send_command(node, "task_cancel", TaskCancel(task_id=task_id, reason=reason, note=note))
