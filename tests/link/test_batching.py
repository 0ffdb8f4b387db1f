"""Records batched on the wire: which rows share a message (the packer, no I/O), that a batch is
what the published schema accepts, and on a real broker that a batch's rows are deleted only on
its PUBACK while every record arrives with its own id and seq."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agent.config.model import ClassBatch, LinkSection
from agent.contract.asyncapi import BUNDLE_ID
from agent.contract.batch import Batch, is_batch, pack, records
from agent.contract.devices import Scan
from agent.contract.topics import Kind, site_filter
from agent.link import Link
from agent.link.batching import Packer
from agent.link.net import Acked, NetThread, PublishRefused
from agent.outbox import Outbox, Row
from tests.link.conftest import node_config
from tests.outbox.disk import committed_rows

BUNDLE = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "portedge-v1.schema.json"


def _row(rid: int, priority: str = "transactional", name: str = "scan", size: int = 10, topic: str | None = None,
         correlation_id: str | None = None) -> Row:
    payload = b'{"seq":%d,"pad":"%s"}' % (rid, b"x" * size)
    return Row(rid, f"id{rid}", rid, priority, "evt", name, topic, name, payload, 0.0, None, correlation_id, None)


def _plan(rows: list[Row], policy: dict[str, ClassBatch] | None = None) -> list[tuple[tuple[int, ...], str]]:
    packer = Packer(policy or LinkSection().batch)
    out = packer.plan(rows, lambda r: r.topic or f"evt/{r.name}", lambda r: "props" if r.correlation_id else None)
    return [(m.rids, m.topic) for m in out]


def test_rows_of_one_topic_waiting_together_share_a_message_in_seq_order():
    rows = [_row(1), _row(2, name="weight"), _row(3), _row(4), _row(5, name="weight")]
    assert _plan(rows) == [((1, 3, 4), "evt/scan"), ((2, 5), "evt/weight")]


def test_a_lone_record_goes_alone_as_the_plain_envelope():
    packer = Packer(LinkSection().batch)
    [message] = packer.plan([_row(7)], lambda r: "evt/scan", lambda r: None)
    assert message.rids == (7,) and message.payload == _row(7).payload


def test_the_record_and_byte_caps_start_a_new_batch():
    policy = {"transactional": ClassBatch(max_records=3, max_bytes=1024)}
    assert [len(rids) for rids, _ in _plan([_row(i) for i in range(1, 8)], policy)] == [3, 3, 1]
    big = [_row(i, size=300) for i in range(1, 6)]  # ~320 bytes each: three fit in 1 KiB
    packer = Packer({"transactional": ClassBatch(max_bytes=1024)})
    out = packer.plan(big, lambda r: "evt/scan", lambda r: None)
    assert [len(m.rids) for m in out] == [3, 2]
    assert all(len(m.payload) <= 1024 for m in out)
    assert [len(rids) for rids, _ in _plan([_row(1, size=2000), _row(2, size=2000)],
                                           {"transactional": ClassBatch(max_bytes=1024)})] == [1, 1]


def test_what_is_never_batched_goes_one_per_message():
    rows = [_row(1, "control", "lane_event"), _row(2, "control", "lane_event"),  # control: off by default
            _row(3, "answers", "task_assign", topic="res/task_assign"), _row(4, "answers", "task_assign", topic="res/task_assign"),
            _row(5, correlation_id="c-1"), _row(6, correlation_id="c-2"),  # MQTT 5 properties to carry
            _row(7, "telemetry", "heartbeat"), _row(8, "telemetry", "heartbeat")]
    assert _plan(rows) == [((1,), "evt/lane_event"), ((2,), "evt/lane_event"), ((3,), "res/task_assign"),
                           ((4,), "res/task_assign"), ((5,), "evt/scan"), ((6,), "evt/scan"), ((7, 8), "evt/heartbeat")]
    off = {"transactional": ClassBatch(enabled=False)}
    assert _plan([_row(1), _row(2)], off) == [((1,), "evt/scan"), ((2,), "evt/scan")]


def test_a_row_that_goes_alone_closes_the_open_batch_of_its_topic():
    """Seq order across messages: a record that must go alone (over the byte cap, or with MQTT 5
    properties) between batchable records of its topic ends the batch before it, so a later
    record never rides in a message published before it."""
    policy = {"transactional": ClassBatch(max_bytes=1024)}
    assert _plan([_row(1), _row(2, size=2000), _row(3)], policy) == [((1,), "evt/scan"), ((2,), "evt/scan"),
                                                                      ((3,), "evt/scan")]
    assert _plan([_row(1), _row(2), _row(3, correlation_id="c-1"), _row(4), _row(5)]) == [
        ((1, 2), "evt/scan"), ((3,), "evt/scan"), ((4, 5), "evt/scan")]
    assert _plan([_row(1), _row(2, name="weight"), _row(3, name="weight", correlation_id="c"), _row(4)]) == [
        ((1, 4), "evt/scan"), ((2,), "evt/weight"), ((3,), "evt/weight")], "another topic's lone row closes nothing here"


def test_a_packed_batch_is_what_the_published_schema_and_the_models_accept(tmp_path):
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        for i in range(3):
            outbox.put("scan", Scan(device="scanner-1", data=f"{i}"))
        rows = outbox.next_batch(10)
    payload = pack([r.payload for r in rows])
    message = json.loads(payload)
    assert is_batch(message) and not is_batch(json.loads(rows[0].payload))
    assert [r["seq"] for r in records(message)] == [1, 2, 3]
    assert records(json.loads(rows[0].payload)) == [json.loads(rows[0].payload)]
    Batch[Scan].model_validate_json(payload)
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    registry = Registry().with_resource(BUNDLE_ID, Resource.from_contents(bundle, default_specification=DRAFT202012))
    validator = jsonschema.Draft202012Validator({"$ref": f"{BUNDLE_ID}#/$defs/evt-scan"}, registry=registry)
    assert not list(validator.iter_errors(message))
    assert not list(validator.iter_errors(json.loads(rows[0].payload)))
    assert list(validator.iter_errors({"batch": []})), "an empty batch is not a message"
    assert list(validator.iter_errors({**message, "id": "x"})), "a batch has no other key"
    assert list(validator.iter_errors({"batch": [{**message["batch"][0], "body": "not an object"}]}))


def test_a_batch_puback_acks_all_its_rows_and_a_refusal_names_them_all():
    loop = asyncio.new_event_loop()
    got: list = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="net-batch-test", protocol=mqtt.MQTTv5)
    net = NetThread(client, loop, got.extend, {})
    net._rows[11] = (1, 2, 3)
    net._rows[12] = (4,)

    class Code:
        def __init__(self, failure: bool):
            self.is_failure = failure
            self.value = 0x87 if failure else 0

        def __str__(self) -> str:
            return "Not authorized"

    net._on_publish(client, None, 11, Code(False), None)
    net._on_publish(client, None, 12, Code(True), None)
    assert net._events == [Acked([1, 2, 3]), PublishRefused((4,), "Not authorized", 0x87)]
    loop.close()


def test_batched_records_arrive_each_with_its_id_and_seq_and_rows_go_only_after_the_puback(
        mosquitto, collector_factory, tmp_path, mocker):
    """The PUBACKs are held at the network thread's callback (a unit seam; the broker is real):
    the platform has every record while every row is still committed on disk, and the rows go
    only once the PUBACKs are let through."""
    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.EVT)])
    config = node_config(mosquitto.url, tmp_path / "lane.db")
    acked_rows: list[int] = []
    on_publish = NetThread._on_publish
    held_pubacks: list[tuple[NetThread, tuple]] = []  # PUBACKs paho read, not yet told to the link
    lock = threading.Lock()
    holding = [True]

    def hold(self: NetThread, *args) -> None:
        with lock:
            if holding[0]:
                held_pubacks.append((self, args))
                return
        on_publish(self, *args)

    def let_through() -> None:  # the held PUBACKs, in order, on the network thread
        with lock:
            holding[0] = False
            calls = list(held_pubacks)
        for net, _ in calls[:1]:
            net.submit(lambda: [on_publish(n, *a) for n, a in calls])

    mocker.patch.object(NetThread, "_on_publish", hold)

    async def scenario() -> list[str]:
        outbox = Outbox(config.storage.path, config.node.id)
        ack = outbox.ack

        def watch(rids: list[int]) -> None:
            acked_rows.extend(rids)
            ack(rids)

        outbox.ack = watch  # type: ignore[method-assign]
        ids = [(await outbox.aput("scan", Scan(device="scanner-1", data=f"{i}"))).id for i in range(250)]
        link = Link(config, outbox, rng=random.Random(1))
        await link.start()  # 250 rows already waiting: they go as batches
        try:
            await asyncio.to_thread(collector.wait, lambda: len(collector.payloads("/evt/")) >= 250, 30,
                                    "the records did not reach the platform")
            for _ in range(500):  # every PUBACK is in (and held) once it stops growing
                pubacks = len(held_pubacks)
                await asyncio.sleep(0.05)
                if pubacks and pubacks == len(held_pubacks):
                    break
            assert len(committed_rows(config.storage.path)) == 250, "rows deleted before their PUBACK"
            assert acked_rows == []
            let_through()
            for _ in range(1500):
                if outbox.stats().depth == 0:
                    break
                await asyncio.sleep(0.02)
            assert outbox.stats().depth == 0
        finally:
            let_through()
            await link.stop()
            outbox.close()
        return ids

    ids = asyncio.run(scenario())
    assert committed_rows(config.storage.path) == []
    messages = [json.loads(raw) for _t, raw in collector.messages]
    assert len(messages) < 250 / 10, f"{len(messages)} messages for 250 waiting records: not batched"
    assert all(len(records(m)) <= 100 for m in messages)
    got = [r for m in messages for r in records(m)]
    assert [r["id"] for r in got] == ids and [r["seq"] for r in got] == list(range(1, 251))
    assert sorted(acked_rows) == sorted(set(acked_rows)) and len(acked_rows) == 250


def test_rows_of_a_batch_without_its_puback_stay_stored(tmp_path):
    """The link acks rows only from the network thread's Acked event: a batch published and
    never acknowledged (connection lost) leaves every row stored, handed out again."""
    config = node_config("mqtt://127.0.0.1:9", tmp_path / "lane.db")

    async def scenario() -> None:
        outbox = Outbox(config.storage.path, config.node.id)
        try:
            for i in range(5):
                await outbox.aput("scan", Scan(device="scanner-1", data=f"{i}"))
            link = Link(config, outbox)
            link._loop, link._wake, link._gone = asyncio.get_running_loop(), asyncio.Event(), asyncio.Event()
            rows = outbox.next_batch(10)
            link._inflight.update(r.rid for r in rows)
            link._handle(Acked([rows[0].rid, rows[1].rid]))  # the PUBACK of a batch of two
            link._on_lost(None)  # the batch of the other three is lost with the connection
            if link._reconnect is not None:
                link._reconnect.cancel()
            for _ in range(500):  # the writer deletes acked rows in its next transaction
                if outbox.stats().depth == 3:
                    break
                await asyncio.sleep(0.02)
            assert outbox.stats().depth == 3
            assert [r.seq for r in outbox.next_batch(10)] == [3, 4, 5]
        finally:
            outbox.close()

    asyncio.run(scenario())
