"""Where a node's answers go, over MQTT 5 and 3.1.1, as docs/platform-integration.md says
("Sending a command"): reply_to inside the node's res/, else (refusals, MQTT 5) the Response
Topic, else res/{name}; the correlation id from the payload, else the Correlation Data, else
"unknown". Real mosquitto, a real node link, the platform's side as a plain subscriber."""

from __future__ import annotations

import asyncio
import json

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.contract.topics import Kind, Topic, site_filter
from agent.errors import InvalidCommandError
from simulators.faults.commands import command_bytes
from tests.link.conftest import node_config
from tests.link.test_link_session import run_node, until

RES = "portedge/v1/yt/lane-1/res/"


def _props(response_topic: str, correlation: bytes) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = response_topic
    props.CorrelationData = correlation
    return props


@pytest.mark.parametrize("version", ["5", "3.1.1"])
def test_answers_go_where_the_guide_says(mosquitto, collector_factory, tmp_path, version):
    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.RES)])
    config = node_config(mosquitto.url, tmp_path / "o.db", version=version)

    async def lane_mode(cmd):
        raise InvalidCommandError("refused", "not this lane")

    cmd = str(Topic("yt", "lane-1", Kind.CMD, "lane_mode"))
    sends = [
        # broken JSON with MQTT 5 properties: only a v5 node sees them
        (cmd, b"{broken", _props(RES + "from_props", b"c-props")),
        # a command the node does not have, reply_to inside its res/
        (str(Topic("yt", "lane-1", Kind.CMD, "self_destruct")),
         command_bytes("yt", "lane-1", "self_destruct", {}, reply_to=RES + "mine"), None),
        # reply_to outside the node: never used
        (cmd, command_bytes("yt", "lane-1", "lane_mode", {"lane": "x", "mode": "auto"},
                       reply_to="portedge/v1/yt/lane-2/res/lane_mode"), None),
    ]

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="connect")
        await asyncio.sleep(0.2)  # SUBACK
        for topic, payload, props in sends:
            await asyncio.to_thread(collector.publish, topic, payload, props)
            await asyncio.sleep(0.1)  # answers in a known order
        await until(lambda: len(collector.messages) >= len(sends), what="every answer")
        return link.health()

    health = run_node(config, scenario, handlers={"lane_mode": lane_mode})
    got = [(topic.removeprefix(RES), json.loads(p)) for topic, p in collector.messages]
    broken, unknown, outside = got
    if version == "5":
        assert (broken[0], broken[1]["correlation_id"]) == ("from_props", "c-props")
    else:
        assert (broken[0], broken[1]["correlation_id"]) == ("lane_mode", "unknown")
    assert broken[1]["error"]["code"] == "invalid_json"
    assert (unknown[0], unknown[1]["error"]["code"], unknown[1]["type"]) == ("mine", "unknown_command", "self_destruct")
    assert (outside[0], outside[1]["error"]["code"]) == ("lane_mode", "refused")
    assert health.errors["command_reply_to_outside_subtree"] == 1
