"""Contract truth: everything the nodes publish in a full port run with faults, captured by a
real subscriber on a real mosquitto, validates against the published JSON Schema
(docs/schemas/portedge-v1.schema.json), and passes the seq audit docs/platform-integration.md
tells a platform to run.

The scenario (simulators/scenarios/contract.toml: two lanes as processes, two PDAs, a broker
restart, line noise, a serial unplug, platform silence, a kill -9 and a misbehaving platform's
commands) makes every kind of node message: retained birth, clean offline and last will,
heartbeats, device status, records, requests and command answers (done, refused, re-sent).
The schema for each message comes from its topic alone, as a platform would look it up, so any
message added to the catalog is validated as soon as a node sends it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agent.contract.asyncapi import BUNDLE_ID, UNKNOWN_COMMAND_KEY
from agent.contract.batch import is_batch
from agent.contract.batch import records as records_of
from agent.contract.topics import PUBLISHER, Kind, Topic
from simulators.port import PortSim
from simulators.scenario import SCENARIO_DIR, load_scenario

BUNDLE = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "portedge-v1.schema.json"


class Capture:
    """A platform-side subscriber to everything under portedge/v1/#, with a persistent session
    (so a broker restart loses it nothing). Keeps every message as received: topic, bytes, retain."""

    def __init__(self, port: int):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="contract-capture", protocol=mqtt.MQTTv5)
        self._client.reconnect_delay_set(0.05, 0.5)
        self._client.on_connect = lambda c, u, f, rc, p=None: rc.is_failure or c.subscribe("portedge/v1/#", qos=1)
        self._client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self._client.connect("127.0.0.1", port, keepalive=5, clean_start=False, properties=props)
        self._client.loop_start()
        deadline = time.monotonic() + 10
        while not self._client.is_connected():
            assert time.monotonic() < deadline, "capture did not connect"
            time.sleep(0.02)
        time.sleep(0.3)  # SUBACK

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def close(self) -> list[tuple[str, bytes, bool]]:
        self._client.disconnect()
        self._client.loop_stop()
        with self._lock:
            return list(self.messages)


class Contract:
    """The published bundle, looked up the way a platform would: by topic."""

    def __init__(self, path: Path):
        self.bundle = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(self.bundle, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(BUNDLE_ID, resource)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    def key(self, topic: Topic) -> str | None:
        if topic.kind is Kind.STATE:
            return "state"
        key = f"{topic.kind}-{topic.name}"
        if key in self.bundle["$defs"]:
            return key
        return UNKNOWN_COMMAND_KEY if topic.kind is Kind.RES else None

    def node_keys(self) -> set[str]:
        """Every message a node may publish, by the bundle's titles (their topic addresses)."""
        out = set()
        for key, schema in self.bundle["$defs"].items():
            title = schema.get("title", "")
            if title.startswith("portedge/"):
                kind = Kind(title.split("/")[4])
                if PUBLISHER[kind] == "node":
                    out.add(key)
        return out

    def errors(self, key: str, payload: object) -> list[str]:
        if key not in self._validators:
            self._validators[key] = jsonschema.Draft202012Validator({"$ref": f"{BUNDLE_ID}#/$defs/{key}"},
                                                                    registry=self._registry)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in self._validators[key].iter_errors(payload)]


def audit_seq(records: list[tuple[str, bytes]]) -> dict[str, dict]:
    """The seq audit of docs/platform-integration.md ("Every record arrives at least once"):
    drop duplicates by id (a copy must be byte-identical), skip seq 0 (not a record: state and
    requests), then per node every seq from the first to the last is there, once, under one id.
    A batch is unpacked first: each of its records is audited as if it had come alone (a copy
    of a record then has the same content, whichever message carried it)."""
    first_copy: dict[str, object] = {}
    by_node: dict[str, dict[int, str]] = defaultdict(dict)
    problems: list[str] = []
    copies = 0
    for topic, raw in records:
        for env in records_of(json.loads(raw)):
            if env["id"] in first_copy:
                copies += 1
                if first_copy[env["id"]] != env:
                    problems.append(f"{topic}: id {env['id']} came again with different bytes")
                continue
            first_copy[env["id"]] = env
            _count_seq(env, by_node, problems)
    out = {}
    for node, seqs in by_node.items():
        lo, hi = min(seqs), max(seqs)
        out[node] = {"records": len(seqs), "first": lo, "last": hi,
                     "gaps": [s for s in range(lo, hi + 1) if s not in seqs]}
    out["_"] = {"problems": problems, "copies": copies}
    return out


def _count_seq(env: dict, by_node: dict[str, dict[int, str]], problems: list[str]) -> None:
    if env["seq"] == 0:
        return
    seen = by_node[env["node"]]
    if env["seq"] in seen:
        problems.append(f"{env['node']}: seq {env['seq']} used by two ids ({seen[env['seq']]}, {env['id']})")
    seen[env["seq"]] = env["id"]


def _label(topic: Topic, env: dict) -> str:
    """What the closing report counts: kind/name, the state's status, an answer's outcome."""
    if topic.kind is Kind.STATE:
        return f"state:{env['body']['status']}"
    if topic.kind is Kind.RES:
        return f"res/{topic.name}:" + ("ok" if env["ok"] else env["error"]["code"])
    return f"{topic.kind}/{topic.name}"


def _env(node: str, seq: int, id_: str, body: str = "x") -> bytes:
    return json.dumps({"id": id_, "node": node, "seq": seq, "body": body}).encode()


def test_the_seq_audit_finds_gaps_reused_seqs_and_copies_that_differ():
    t = "portedge/v1/s/n/evt/scan"
    clean = audit_seq([(t, _env("n", 1, "A")), (t, _env("n", 2, "B")), (t, _env("n", 2, "B")), (t, _env("n", 0, "R"))])
    assert clean["n"] == {"records": 2, "first": 1, "last": 2, "gaps": []}
    assert clean["_"] == {"problems": [], "copies": 1}
    gap = audit_seq([(t, _env("n", 1, "A")), (t, _env("n", 3, "C"))])
    assert gap["n"]["gaps"] == [2]
    reused = audit_seq([(t, _env("n", 1, "A")), (t, _env("n", 1, "B"))])
    assert "seq 1 used by two ids" in reused["_"]["problems"][0]
    differs = audit_seq([(t, _env("n", 1, "A")), (t, _env("n", 2, "A", "other"))])  # a re-send with a new seq
    assert "different bytes" in differs["_"]["problems"][0]


def test_the_seq_audit_unpacks_batches_record_by_record():
    t = "portedge/v1/s/n/evt/scan"
    batch = b'{"batch":[' + _env("n", 1, "A") + b"," + _env("n", 2, "B") + b"]}"
    audit = audit_seq([(t, batch), (t, _env("n", 2, "B")), (t, _env("n", 4, "D"))])  # B again, alone
    assert audit["n"] == {"records": 3, "first": 1, "last": 4, "gaps": [3]}
    assert audit["_"] == {"problems": [], "copies": 1}
    changed = audit_seq([(t, batch), (t, _env("n", 2, "B", "other"))])
    assert "different bytes" in changed["_"]["problems"][0]


# child processes and ptys are audited by the run itself
@pytest.mark.slow
@pytest.mark.allow_leaks
def test_every_message_of_a_port_run_with_faults_validates_against_the_published_schema(mosquitto, tmp_path):
    contract = Contract(BUNDLE)
    scenario = load_scenario(SCENARIO_DIR / "contract.toml")
    capture = Capture(mosquitto.port)
    try:
        summary = asyncio.run(PortSim(scenario, tmp_path, broker=mosquitto).run())
    finally:
        messages = capture.close()

    assert summary["problems"] == [], summary["problems"]
    invalid: list[str] = []
    seen: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    records: list[tuple[str, bytes]] = []
    for text, raw, _retained in messages:
        topic = Topic.parse(text)
        if PUBLISHER[topic.kind] != "node" and topic.kind is not Kind.RSP:
            continue  # the platform's commands (some malformed on purpose by the fault)
        key = contract.key(topic)
        if key is None:
            invalid.append(f"{text}: no such channel in the contract")
            continue
        try:
            env = json.loads(raw)
        except ValueError as err:
            invalid.append(f"{text}: not JSON: {err}")
            continue
        errors = contract.errors(key, env)
        if errors:
            invalid.append(f"{text} ({key}): {errors[:3]}")
            continue
        keys[key] += 1
        if is_batch(env):
            seen["(batches)"] += 1
        for record in records_of(env):
            seen[_label(topic, record)] += 1
        if PUBLISHER[topic.kind] == "node":
            records.append((text, raw))
    report = "\n".join(f"  {count:6d}  {label}" for label, count in sorted(seen.items()))
    print(f"\nmessages captured: {len(messages)}; validated by type:\n{report}")
    assert not invalid, f"{len(invalid)} message(s) failed the published schema:\n" + "\n".join(invalid[:20])

    # what the run must have made, so the validation above is not vacuous
    for label in ("state:online", "state:offline", "state:lost", "evt/heartbeat", "evt/device_status", "evt/weight",
                  "evt/gate_transaction", "evt/lane_event", "evt/gate_reconcile", "evt/task_update",
                  "req/gate_verify", "req/driver_login", "rsp/gate_verify", "rsp/driver_login",
                  "res/permits_sync:ok", "res/task_assign:ok", "res/barrier_open:refused", "res/reread:refused",
                  "res/self_destruct:unknown_command"):
        assert seen[label] > 0, f"the scenario made no {label}"
    for code in ("invalid_json", "invalid_schema", "expired", "wrong_node", "refused"):
        assert any(label.endswith(f":{code}") for label in seen), f"no command was refused as {code}"
    unseen = sorted(contract.node_keys() - set(keys))
    print(f"catalogued node messages this scenario does not make: {unseen}")

    # the seq audit, as the docs tell a platform to run it
    audit = audit_seq(records)
    problems = audit.pop("_")
    assert problems["problems"] == [], problems["problems"]
    assert problems["copies"] >= 2, "the duplicate command's answer (and the state re-send) did not come twice"
    for node in [*scenario.lane_ids, *scenario.pda_ids]:
        assert audit[node]["records"] > 0 and audit[node]["gaps"] == [], (node, audit[node])

    # the weight event rule: an idle lane's scale noise (+-1 division) is not an event
    trucks = sum(d["trucks"] for d in summary["lanes"].values())
    weights = seen["evt/weight"]
    assert weights <= 6 * trucks + 8 * len(scenario.lane_ids), (weights, trucks)
