"""End to end with a real broker: the platform sends a TO_INSPECTION task, it appears on the
board, the driver logs in (checked by the platform) and scans it to completion, part of it
while the broker is down; the platform receives each update once, in order."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.config.model import NodeConfig
from agent.contract.batch import records
from agent.contract.envelope import Command, Response, dump, new_id
from agent.contract.tasks import DriverLoginAnswer
from agent.contract.topics import Kind, Topic
from agent.link import Link
from agent.outbox import Outbox
from agent.tasks import Board

from .fakes import AWB, make_task

SITE, NODE = "yt", "pda-1"


class Platform:
    """The platform's side on its own paho thread: collects events, answers driver_login."""

    def __init__(self, port: int):
        self.events: list[dict] = []
        self._lock = threading.Lock()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="platform", protocol=mqtt.MQTTv5)
        c.reconnect_delay_set(0.05, 0.3)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe([(f"portedge/v1/{SITE}/{NODE}/evt/#", 1),
                                                           (f"portedge/v1/{SITE}/{NODE}/req/#", 1)])
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_message = self._on_message
        self.subscribed = threading.Event()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        c.connect("127.0.0.1", port, keepalive=5, clean_start=False, properties=props)
        c.loop_start()
        self.client = c

    def _on_message(self, client, userdata, msg) -> None:
        body = json.loads(msg.payload)
        if "/req/driver_login" in msg.topic:
            ok = body["body"] == {"badge": "D1024", "pin": "4711"}
            answer = Response(node="platform", type="driver_login", correlation_id=body["correlation_id"], ok=True,
                              body=DriverLoginAnswer(badge="D1024", ok=ok, name="王师傅" if ok else ""))
            client.publish(body["reply_to"], dump(answer), qos=1)
            return
        with self._lock:
            self.events.extend(records(body))

    def updates(self) -> list[dict]:
        with self._lock:
            return [e for e in self.events if e["type"] == "task_update"]

    def send(self, type: str, body) -> None:
        now = datetime.now(UTC)
        cmd = Command(id=new_id(), node=NODE, type=type, body=body, reply_to=str(Topic(SITE, NODE, Kind.RES, type)),
                      correlation_id=f"c-{type}", expires_at=now + timedelta(seconds=60))
        self.client.publish(str(Topic(SITE, NODE, Kind.CMD, type)), dump(cmd), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def until(predicate, what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def test_inspection_task_from_platform_to_completion_across_a_broker_outage(mosquitto_factory, tmp_path):
    # simulators/mosquitto.py keeps mosquitto as root when the suite runs as root, so its
    # persistence (the platform's session, queued QoS 1) survives the restart below.
    mosquitto = mosquitto_factory()
    config = NodeConfig.model_validate({
        "node": {"id": NODE, "site": SITE, "role": "pda", "heartbeat_s": 3600},
        "broker": {"url": mosquitto.url, "reconnect_base_s": 0.05, "reconnect_cap_s": 0.3, "keepalive_s": 5},
        "storage": {"path": str(tmp_path / "node.db")}, "pda": {"pin_hash_n": 1024}})
    platform = Platform(mosquitto.port)

    async def go():
        outbox = Outbox(tmp_path / "node.db", NODE)
        link = Link(config, outbox)
        board = Board(tmp_path / "board.db", node=NODE, recorder=outbox, requester=link, config=config.pda)
        for name, handler in board.command_handlers().items():
            link.register_command(name, handler)
        try:
            await board.start()
            await link.start()
            await until(lambda: link.connected and platform.subscribed.is_set(), "connections")
            login = await board.login("D1024", "4711")
            assert (login.ok, login.offline) == (True, False)

            task = make_task(_Wall(), task_id="T-E2E", pieces=2)
            platform.send("task_assign", task)
            await until(lambda: board.tasks(), "the task on the board")
            assert board.tasks()[0].task.source_location == "A-03-12-2"
            assert (await board.accept("T-E2E")).ok
            assert (await board.scan("A-03-12-2")).ok
            assert not (await board.scan(f"{AWB}-007")).ok  # wrong piece: refused, kept as evidence

            await until(lambda: len(platform.updates()) == 3, "three updates before the outage")
            await until(lambda: outbox.stats().depth == 0, "the outbox to drain (PUBACKs handled)")
            mosquitto.stop()
            await until(lambda: not link.connected, "the link to notice")
            offline = [await board.scan(f"{AWB}-001"), await board.scan(f"{AWB}-002"), await board.scan("BAY-07"),
                       await board.complete()]
            assert all(r.ok for r in offline)  # right/wrong answered at once, offline
            assert board.unsent() == 0  # all committed to the outbox
            mosquitto.restart()
            await until(lambda: len(platform.updates()) >= 6, "updates after the broker returned")
            await asyncio.sleep(0.3)  # a duplicate would arrive now
        finally:
            await link.stop()
            await board.close()
            outbox.close()

    try:
        asyncio.run(go())
    finally:
        platform.close()
    received = platform.updates()
    # at least once: a re-sent message keeps its id, and the platform drops it by that id
    updates = list({u["id"]: u for u in received}.values())
    assert len({(u["body"]["task_id"], u["body"]["step"]) for u in received}) == len(updates)
    assert [u["body"]["state"] for u in updates] == ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED",
                                                     "COMPLETED"]
    assert [u["body"]["step"] for u in updates] == [1, 2, 3, 4, 5, 6]
    assert len({u["id"] for u in updates}) == 6 and [u["seq"] for u in updates] == sorted(u["seq"] for u in updates)
    picked = updates[3]["body"]
    assert [(s["data"], s["accepted"], s["reason"]) for s in picked["scans"]] == [
        (f"{AWB}-007", False, "wrong_piece"), (f"{AWB}-001", True, ""), (f"{AWB}-002", True, "")]


class _Wall:
    """make_task wants a clock; the platform uses real time."""

    def now(self):
        return datetime.now(UTC)
