"""The platform's side of a fleet run: one subscriber that times both paths.

node -> platform: every `evt` is timed from its envelope `ts` (set just before the node's
publish) to its receipt here; both ends read the same machine's wall clock. platform -> node:
the probe sends commands (lane_mode / reread to lanes, task_assign / task_cancel to PDAs) with
a correlation id and times them until the node's Response arrives on `res/`. It also keeps the
retained `state` of every node (births) and audits each node's `seq` (missing numbers = gaps).

One paho client with its own network thread (it is one client, not a thousand), a persistent
MQTT 5 session so what arrives while it reconnects after a broker restart is still delivered.
Optionally subscribes through a shared subscription (`$share/<group>/...`), as a scaled-out
platform would. It must never act on what it receives beyond counting and timing.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.contract.envelope import Command, new_id, utc_now
from agent.contract.gate import LaneMode, Reread
from agent.contract.tasks import Task, TaskCancel
from agent.contract.topics import Kind, Topic, site_filter
from agent.errors import TopicError
from agent.link.paho_sockets import no_delay
from simulators.fleet.stats import percentiles

COMMAND_TTL_S = 30.0


class PlatformProbe:
    def __init__(self, host: str, port: int, site: str, *, rng: random.Random, shared_group: str | None = None,
                 client_id: str = "fleet-platform", mqtt_version: str = "5"):
        self.site, self._rng = site, rng
        self._lock = threading.Lock()
        self.node_ms: list[float] = []
        self.command_ms: list[float] = []
        # (sent, received) wall times of each sample above, to set a broker restart apart
        self.node_at: list[tuple[float, float]] = []
        self.command_at: list[tuple[float, float]] = []
        self.received = 0
        self.by_type: Counter[str] = Counter()
        self.states: dict[str, str] = {}
        self.births = 0
        self.pending: dict[str, float] = {}
        self.sent = 0
        self.answered_ok = 0
        self.answered_error = 0
        self.bad_payloads = 0
        self._seqs: dict[str, set[int]] = {}
        self._recent: deque[float] = deque(maxlen=100_000)  # receipt times, for the live rate
        self.connected = threading.Event()
        prefix = f"$share/{shared_group}/" if shared_group else ""
        self._filters = [(prefix + site_filter(site, Kind.EVT), 1), (prefix + site_filter(site, Kind.RES), 1),
                         (site_filter(site, Kind.STATE), 1)]  # retained states are never sent to a share
        self._task_numbers = Counter()
        self._v5 = mqtt_version == "5"
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311, **({} if self._v5 else {"clean_session": False}))
        c.max_inflight_messages_set(100)
        c.reconnect_delay_set(1, 2)
        c.on_connect, c.on_message, c.on_disconnect = self._on_connect, self._on_message, self._on_disconnect
        c.on_socket_open = lambda _client, _userdata, sock: no_delay(sock)
        self._client, self._host, self._port = c, host, port

    def start(self, timeout: float = 10.0) -> None:
        if self._v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
            self._client.connect(self._host, self._port, 30, clean_start=False, properties=props)
        else:
            self._client.connect(self._host, self._port, 30)
        self._client.loop_start()
        if not self.connected.wait(timeout):
            self.stop()
            raise RuntimeError(f"platform probe could not connect to {self._host}:{self._port}")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, _ud, _flags, reason_code, _props) -> None:
        if not reason_code.is_failure:
            client.subscribe(self._filters)
            self.connected.set()

    def _on_disconnect(self, *_args) -> None:
        self.connected.clear()

    # -- receiving ------------------------------------------------------------------------

    def _on_message(self, _client, _ud, msg) -> None:
        now_wall, now = time.time(), time.monotonic()
        try:
            topic = Topic.parse(msg.topic)
            raw = json.loads(msg.payload)
        except (TopicError, ValueError):
            with self._lock:
                self.bad_payloads += 1
            return
        with self._lock:
            if topic.kind is Kind.STATE:
                status = raw.get("body", {}).get("status")
                if status == "online" and self.states.get(topic.node) != "online":
                    self.births += 1
                self.states[topic.node] = status
            elif topic.kind is Kind.EVT:
                self.received += 1
                self._recent.append(now)
                self.by_type[topic.name] += 1
                try:
                    sent_wall = datetime.fromisoformat(raw["ts"]).timestamp()
                    self.node_ms.append((now_wall - sent_wall) * 1000)
                    self.node_at.append((sent_wall, now_wall))
                    self._seqs.setdefault(topic.node, set()).add(int(raw["seq"]))
                except (KeyError, TypeError, ValueError):
                    self.bad_payloads += 1
            elif topic.kind is Kind.RES:
                sent = self.pending.pop(str(raw.get("correlation_id")), None)
                if sent is not None:
                    self.command_ms.append((now - sent) * 1000)
                    self.command_at.append((now_wall - (now - sent), now_wall))
                    if raw.get("ok"):
                        self.answered_ok += 1
                    else:
                        self.answered_error += 1

    # -- commanding -----------------------------------------------------------------------

    def send_commands(self, count: int) -> int:
        """Send `count` commands to nodes whose last state is online; returns how many went."""
        with self._lock:
            online = [n for n, s in self.states.items() if s == "online"]
        if not online:
            return 0
        for _ in range(count):
            node = self._rng.choice(online)
            name, body = self._command_for(node)
            corr = f"c-{self._rng.getrandbits(64):016x}"
            cmd = Command[type(body)](id=new_id(), node=node, type=name, body=body, correlation_id=corr,
                                      reply_to=str(Topic(self.site, node, Kind.RES, name)),
                                      expires_at=utc_now() + timedelta(seconds=COMMAND_TTL_S))
            with self._lock:
                self.pending[corr] = time.monotonic()
                self.sent += 1
            self._client.publish(str(Topic(self.site, node, Kind.CMD, name)), cmd.model_dump_json(), qos=1)
        return count

    def _command_for(self, node: str):
        if node.startswith("lane"):
            if self._rng.random() < 0.5:
                return "lane_mode", LaneMode(lane=node, mode="auto")
            return "reread", Reread(lane=node)
        self._task_numbers[node] += 1
        task_id = f"T-F-{node}-{self._task_numbers[node]:05d}"
        if self._rng.random() < 0.8:
            return "task_assign", Task(task_id=task_id, kind="TO_INSPECTION", due_by=utc_now() + timedelta(hours=1),
                                       awb="17612345675", pieces=self._rng.randrange(1, 6), source_location="A-03-12-2",
                                       destination="BAY-07", customs_ref="CI-5531")
        return "task_cancel", TaskCancel(task_id=task_id, reason="reassigned")

    # -- reading --------------------------------------------------------------------------

    def live(self, window_s: float = 5.0) -> dict:
        now = time.monotonic()
        with self._lock:
            rate = sum(1 for t in reversed(self._recent) if now - t <= window_s) / window_s if self._recent else 0.0
            return {
                "received": self.received, "msgs_per_s": rate,
                "node_to_platform": percentiles(self.node_ms[-2000:]),
                "platform_to_node": percentiles(self.command_ms[-500:]),
                "online": sum(1 for s in self.states.values() if s == "online"),
                "commands_sent": self.sent, "commands_pending": len(self.pending),
            }

    def steady(self, quiet_from: float, quiet_until: float) -> dict:
        """Latencies of the samples neither sent nor received within [quiet_from, quiet_until]
        (wall times): the paths' figures apart from a broker restart."""
        def keep(ms: list[float], at: list[tuple[float, float]]) -> list[float]:
            return [v for v, (a, b) in zip(ms, at, strict=True)
                    if not (quiet_from <= a <= quiet_until or quiet_from <= b <= quiet_until or a < quiet_from < b)]

        with self._lock:
            return {"node_to_platform": percentiles(keep(self.node_ms, self.node_at)),
                    "platform_to_node": percentiles(keep(self.command_ms, self.command_at))}

    def seq_audit(self, last_seq: dict[str, int] | None = None) -> dict:
        """Seq numbers never received (`missing`) and received again (`duplicates`: QoS 1
        redelivery, the platform drops them by id). With each node's last published seq the
        audit also covers the tail; without it, only gaps below the highest seq received."""
        with self._lock:
            seqs = {k: set(v) for k, v in self._seqs.items()}
            timed = len(self.node_ms)
        distinct = sum(len(s) for s in seqs.values())
        if last_seq is None:
            last_seq = {node: max(s) for node, s in seqs.items() if s}
        lost = {node: sorted(set(range(1, top + 1)) - seqs.get(node, set())) for node, top in last_seq.items()}
        lost = {node: gone for node, gone in lost.items() if gone}
        return {"nodes_seen": len(seqs), "missing": sum(len(g) for g in lost.values()), "duplicates": timed - distinct,
                "missing_examples": {node: gone[:5] for node, gone in list(lost.items())[:5]}}
