"""Finding (bounds): a 100 MB command lifted a node's RSS by 300 MB before it was refused (no
MQTT 5 Maximum Packet Size was sent, and paho buffers a whole packet - asking recv() for all
of it at once - before anything can look at it). Now an MQTT 5 node tells the broker its
limit on connect, so the broker never sends it a bigger packet; an MQTT 3.1.1 node checks the
announced length before reading the packet and drops the connection instead, counted and
explained in its health."""

from __future__ import annotations

import json

from agent.contract.broker import MAX_PACKET_BYTES
from agent.contract.topics import Kind, Topic, site_filter
from tests.link.conftest import Collector, node_config
from tests.link.test_link_session import command, run_node, until

TOPIC = str(Topic("yt", "lane-1", Kind.CMD, "lane_mode"))


def huge(size: int) -> bytes:
    return json.dumps({"id": "01JDCMD0000000000000000BIG", "correlation_id": "c-big",
                       "pad": "x" * size}).encode()


def test_an_mqtt5_node_is_never_sent_a_packet_over_its_limit(mosquitto, tmp_path):
    platform = Collector(mosquitto.port, [site_filter("yt", Kind.RES)])
    config = node_config(mosquitto.url, tmp_path / "o.db")
    ran: list[str] = []

    async def lane_mode(cmd):
        ran.append(cmd.body.mode)

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="connect")
        await until(lambda: link.health().connected, what="subscribed")
        platform.publish(TOPIC, huge(2 * MAX_PACKET_BYTES))
        platform.publish(TOPIC, command("lane_mode", {"lane": "lane-1", "mode": "manual"}))
        await until(lambda: ran == ["manual"], timeout=15, what="the small command after the huge one")
        return link.connects, dict(link.health().errors)

    try:
        connects, errors = run_node(config, scenario, handlers={"lane_mode": lane_mode})
    finally:
        platform.close()
    assert connects == 1  # never knocked off
    assert errors.get("command_oversize", 0) == 0  # the broker dropped it: the node never read it


def test_an_mqtt311_node_refuses_an_oversized_packet_before_reading_it(mosquitto, tmp_path, caplog):
    platform = Collector(mosquitto.port, [site_filter("yt", Kind.RES)])
    config = node_config(mosquitto.url, tmp_path / "o.db", version="3.1.1")

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="connect")
        platform.publish(TOPIC, huge(20 * MAX_PACKET_BYTES))
        await until(lambda: link.health().errors.get("packet_too_large", 0) >= 1, timeout=15,
                    what="the oversized packet refused")
        return link.health()

    try:
        health = run_node(config, scenario)
    finally:
        platform.close()
    assert health.errors.get("command_oversize", 0) == 0  # refused before paho buffered it
    assert health.errors["packet_too_large"] >= 1
    assert any("over this node's limit" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
