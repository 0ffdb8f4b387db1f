"""The platform simulator against a real mosquitto, with a raw paho client playing a node."""

from __future__ import annotations

import json
import queue
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest

from agent.contract.envelope import Envelope, new_id
from agent.contract.gate import VerifyRequest
from agent.contract.topics import Kind, Topic, node_filter
from simulators.platform import PlatformSim, Preadvice

SITE = "yt"


class FakeNode:
    """A bare paho client publishing envelopes by hand: the simulator's counterpart."""

    def __init__(self, port: int, node: str = "lane-1"):
        self.node = node
        self.inbox: queue.Queue = queue.Queue()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fake-{node}", protocol=mqtt.MQTTv5)
        self.c.on_message = lambda c, u, m: self.inbox.put((m.topic, json.loads(m.payload)))
        self.c.connect("127.0.0.1", port)
        self.c.subscribe(node_filter(SITE, node, Kind.RSP), qos=1)
        self.c.subscribe(node_filter(SITE, node, Kind.CMD), qos=1)
        self.c.loop_start()

    def send(self, kind: Kind, name: str, body, seq: int, msg_id: str | None = None, **extra) -> dict:
        env = Envelope[type(body)](id=msg_id or new_id(), node=self.node, seq=seq, type=name, body=body, **extra)
        self.c.publish(str(Topic(SITE, self.node, kind, name)), env.model_dump_json(), qos=1).wait_for_publish(5)
        return json.loads(env.model_dump_json())

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def platform(mosquitto):
    sim = PlatformSim(mosquitto.url, SITE).start()
    yield sim
    sim.stop()


@pytest.fixture
def node(mosquitto):
    n = FakeNode(mosquitto.port)
    yield n
    n.close()


def _verify(node: FakeNode, plate: str, containers: list[str], seq: int) -> dict:
    corr = new_id()
    req = VerifyRequest(transaction_id=new_id(), lane="lane-1", plate=plate, containers=containers)
    node.send(Kind.REQ, "gate_verify", req, seq, correlation_id=corr,
              reply_to=str(Topic(SITE, node.node, Kind.RSP, "gate_verify")))
    topic, answer = node.inbox.get(timeout=5)
    assert topic.endswith("/rsp/gate_verify")
    assert answer["correlation_id"] == corr
    return answer


def test_verification_answered_from_preadvice(platform, node):
    platform.add_preadvice(Preadvice(plate="沪A12345挂", containers=["CSQU3054383"], yard_position="C-04-11"))
    allowed = _verify(node, "沪A12345挂", ["CSQU3054383"], seq=1)
    assert allowed["ok"] and allowed["body"]["allow"] is True
    assert allowed["body"]["yard_position"] == "C-04-11"
    unknown = _verify(node, "粤B99999", [], seq=2)
    assert unknown["body"]["allow"] is False and "pre-advice" in unknown["body"]["reason"]
    wrong_box = _verify(node, "沪A12345挂", ["TCNU7200794"], seq=3)
    assert wrong_box["body"]["allow"] is False and "CSQU3054383" in wrong_box["body"]["reason"]


def test_silent_platform_answers_nothing(platform, node):
    platform.add_preadvice(Preadvice(plate="沪A12345挂", containers=[]))
    platform.silent = True
    node.send(Kind.REQ, "gate_verify", VerifyRequest(transaction_id="t1", lane="lane-1", plate="沪A12345挂"), 1,
              correlation_id="c1", reply_to=str(Topic(SITE, "lane-1", Kind.RSP, "gate_verify")))
    with pytest.raises(queue.Empty):
        node.inbox.get(timeout=0.5)
    assert platform.stats.ignored_while_silent == 1
    platform.silent = False
    assert _verify(node, "沪A12345挂", [], seq=2)["body"]["allow"] is True


def test_ledger_dedupes_by_id_and_finds_seq_gaps(platform, node):
    from agent.contract.devices import Scan

    sent = [node.send(Kind.EVT, "scan", Scan(device="s1", data=f"P{i}"), seq=i) for i in (1, 2, 3, 5)]
    node.send(Kind.EVT, "scan", Scan(device="s1", data="P2"), seq=2, msg_id=sent[1]["id"])  # a resend
    node.send(Kind.REQ, "gate_verify", VerifyRequest(transaction_id="x", lane="lane-1", plate=None), 6,
              correlation_id="c", reply_to=str(Topic(SITE, "lane-1", Kind.RSP, "gate_verify")))
    node.inbox.get(timeout=5)  # the answer proves everything before it was processed
    audit = platform.ledger.audit("lane-1")
    assert audit.records == 5 and audit.duplicates == 1
    assert audit.gaps == [4]
    assert [b["data"] for b in platform.ledger.bodies("scan")] == ["P1", "P2", "P3", "P5"]


def test_invalid_records_are_counted_not_stored(platform, node, mosquitto):
    node.c.publish(str(Topic(SITE, "lane-1", Kind.EVT, "scan")), b"{not json", qos=1).wait_for_publish(5)
    node.c.publish(str(Topic(SITE, "lane-1", Kind.EVT, "scan")), json.dumps({"id": "x"}), qos=1).wait_for_publish(5)
    _verify(node, "none", [], seq=1)
    assert platform.stats.invalid["unparseable"] == 1
    assert platform.stats.invalid["scan"] == 1
    assert platform.ledger.count("scan") == 0


def test_commands_carry_expiry_and_reply_topic(platform, node):
    from agent.contract.tasks import Task

    task = Task(task_id="T1", kind="TO_INSPECTION", due_by=datetime(2026, 11, 27, 10, tzinfo=UTC), awb="17612345675",
                pieces=2, source_location="A-03-12-2", destination="BAY-07")
    corr = platform.assign_task("lane-1", task, ttl_s=5)
    topic, cmd = node.inbox.get(timeout=5)
    assert topic == f"portedge/v1/{SITE}/lane-1/cmd/task_assign"
    assert cmd["correlation_id"] == corr and cmd["reply_to"].endswith("/res/task_assign")
    assert datetime.fromisoformat(cmd["expires_at"]) > datetime.fromisoformat(cmd["ts"])
    node.c.publish(cmd["reply_to"], json.dumps({"correlation_id": corr, "ok": True}), qos=1).wait_for_publish(5)
    assert platform.wait_response(corr, 5)["ok"] is True
