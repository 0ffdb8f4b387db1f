"""The runtime holds a list of workflows built from the config (agent.runtime.BUILDERS) and
treats them alike: the link first with commands held, the workflows' start, then commands,
run and devices; closing stops the intake before anything closes, the outbox last. The first
tests replace the link at its seam; the last ones run it against a real mosquitto. The
workflows are the real ones."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.config import parse
from agent.contract.devices import Scan
from agent.errors import ConfigError
from agent.gate.station import GateStation
from agent.interfaces import Workflow
from agent.personnel.station import PersonnelStation
from agent.runtime import ConsoleWorkflow, NodeRuntime
from agent.tasks.board import Board
from tests.link.conftest import Collector
from tests.ops.procs import free_port

BROKER = '[broker]\nurl = "mqtt://127.0.0.1:1"\n'  # never dialled: the link is stubbed


def _config(tmp_path: Path, node: str, role: str, extra: str = ""):
    text = f'[node]\nid = "{node}"\nsite = "t"\nrole = "{role}"\n{BROKER}[storage]\npath = "{tmp_path}/{node}.db"\n'
    return parse(text + extra, f"{node}.toml")


def _people(tmp_path: Path) -> str:
    key = tmp_path / "site.key"
    key.write_text(os.urandom(32).hex())
    return (f'[personnel]\nlane = "p-1"\narea = "apron"\nreaders = ["id-1"]\nturnstile = "ts-1"\n'
            f'site_key_file = "{key}"\n'
            '[[devices]]\nkind = "idcard_reader"\nname = "id-1"\nport = "loop://"\n'
            '[[devices]]\nkind = "turnstile"\nname = "ts-1"\nport = "socket://127.0.0.1:1"\n')


def _stub_link(node: NodeRuntime, order: list[str], mocker) -> None:
    mocker.patch.object(node.link, "start", side_effect=lambda commands=True: order.append(
        "link.start" if commands else "link.start(commands=False)"))
    mocker.patch.object(node.link, "take_commands", side_effect=lambda: order.append("link.take_commands"))
    mocker.patch.object(node.link, "stop_commands", side_effect=lambda grace_s: order.append("link.stop_commands"))
    mocker.patch.object(node.link, "stop", side_effect=lambda: order.append("link.stop"))


def _watch(order: list[str], obj, name: str, label: str, mocker) -> None:
    real = getattr(obj, name)

    async def recorded(*args, **kwargs):
        order.append(label)
        return await real(*args, **kwargs)

    mocker.patch.object(obj, name, side_effect=recorded)


def test_each_config_section_builds_its_workflow(tmp_path):
    cases = [
        (_config(tmp_path, "pda-1", "pda"), [Board]),
        (_config(tmp_path, "lane-1", "gate", '[gate]\nlane = "lane-1"\n'), [GateStation]),
        (_config(tmp_path, "lane-2", "gate", '[gate]\nlane = "lane-2"\n[console]\nlisten = "127.0.0.1:0"\n'),
         [GateStation, ConsoleWorkflow]),
        (_config(tmp_path, "apron-1", "gate", _people(tmp_path)), [PersonnelStation]),
    ]
    for config, kinds in cases:
        node = NodeRuntime(config)
        try:
            assert [type(w) for w in node.workflows] == kinds
            assert all(isinstance(w, Workflow) for w in node.workflows)
        finally:
            asyncio.run(_close_unstarted(node))


async def _close_unstarted(node: NodeRuntime) -> None:
    for workflow in node.workflows:
        await workflow.close()
    if node.audit is not None:
        node.audit.close()
    node.outbox.close()


def test_unset_state_paths_go_beside_the_outbox(tmp_path):
    gate = NodeRuntime(_config(tmp_path, "lane-1", "gate", '[gate]\nlane = "lane-1"\n'))
    people = NodeRuntime(_config(tmp_path, "apron-1", "gate", _people(tmp_path)))
    try:
        assert gate.station is not None and people.people is not None
        assert gate.station.settings.state_path == tmp_path / "lane-1.gate.db"
        assert people.people.settings.state_path == tmp_path / "apron-1.people.db"
        assert (tmp_path / "lane-1.gate.db").exists() and (tmp_path / "apron-1.people.db").exists()
    finally:
        asyncio.run(_close_unstarted(gate))
        asyncio.run(_close_unstarted(people))


def test_a_missing_device_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"gate\.io: no device named 'io-9'"):
        NodeRuntime(_config(tmp_path, "lane-1", "gate", '[gate]\nlane = "lane-1"\nio = "io-9"\n'))


def test_commands_are_taken_only_between_the_workflows_start_and_close(tmp_path, mocker):
    """The link starts first (it drains the outbox) holding commands; they are taken once every
    workflow started and stop before anything closes: the console, then the commands (running
    ones finish), then devices, workflows in reverse, the link, the outbox last."""
    node = NodeRuntime(_config(tmp_path, "lane-1", "gate",
                               f'[gate]\nlane = "lane-1"\n[console]\nlisten = "127.0.0.1:{free_port()}"\n'))
    order: list[str] = []
    _stub_link(node, order, mocker)
    assert node.station is not None
    console = node.workflows[1]
    _watch(order, node.station, "start", "station.start", mocker)
    _watch(order, console, "start", "console.start", mocker)
    _watch(order, node.station, "run", "station.run", mocker)
    _watch(order, node.station, "close", "station.close", mocker)
    _watch(order, console, "close", "console.close", mocker)
    _watch(order, node.supervisor, "stop", "devices.stop", mocker)
    mocker.patch.object(node.outbox, "close", side_effect=lambda real=node.outbox.close: (order.append("outbox.close"),
                                                                                          real()))

    async def life() -> None:
        await node.start()
        await asyncio.sleep(0.05)  # the run task starts
        await node.close()

    asyncio.run(life())
    assert order[:5] == ["link.start(commands=False)", "station.start", "console.start", "link.take_commands",
                         "station.run"]
    assert order[5:] == ["console.close", "link.stop_commands", "devices.stop", "station.close", "link.stop",
                         "outbox.close"]


def test_a_pda_scan_goes_to_the_app_route_or_else_to_the_board(tmp_path, mocker):
    routed: list[tuple[str, str]] = []

    async def route(data: str, device: str) -> None:
        routed.append((data, device))

    async def scan_both() -> None:
        with_app = NodeRuntime(_config(tmp_path / "a", "pda-1", "pda"), on_scan=route)
        alone = NodeRuntime(_config(tmp_path / "b", "pda-2", "pda"))
        for node in (with_app, alone):
            _stub_link(node, [], mocker)
            await node.start()
        assert alone.board is not None
        scanned = mocker.spy(alone.board, "scan")
        try:
            for node in (with_app, alone):
                await node.emit("scan-1", Scan(device="scan-1", data="A-01-02-3"))
        finally:
            for node in (with_app, alone):
                await node.close()
        assert routed == [("A-01-02-3", "scan-1")]
        assert scanned.call_args_list == [mocker.call("A-01-02-3")]

    asyncio.run(scan_both())


# -- with a real broker ---------------------------------------------------------------------------

def _live_config(tmp_path: Path, url: str, extra: str = ""):
    text = (f'[node]\nid = "lane-1"\nsite = "t"\nrole = "gate"\nheartbeat_s = 3600\n'
            f'[broker]\nurl = "{url}"\nreconnect_base_s = 0.05\nreconnect_cap_s = 0.5\n'
            f'[storage]\npath = "{tmp_path}/lane-1.db"\n{extra}[gate]\nlane = "lane-1"\n')
    return parse(text, "lane-1.toml")


def _command(name: str, body: dict, cmd_id: str) -> bytes:
    now = datetime.now(UTC)
    return json.dumps({"id": cmd_id, "node": "lane-1", "ts": now.isoformat(), "type": name, "v": 1, "body": body,
                       "correlation_id": f"c-{cmd_id[-4:]}", "reply_to": f"portedge/v1/t/lane-1/res/{name}",
                       "expires_at": (now + timedelta(seconds=60)).isoformat()}).encode()


async def _until(check, timeout: float, what: str) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
    assert check(), what


def test_a_full_outbox_with_an_interrupted_transaction_starts_and_takes_commands_after_recovery(
        tmp_path, mosquitto, mocker):
    """The transactional class is at its cap and the lane's journal holds an interrupted
    transaction: the link drains the outbox while the lane records it as aborted, and a
    command that arrived meanwhile runs only once the lane has recovered."""
    platform = Collector(mosquitto.port, ["portedge/v1/t/lane-1/#"])
    config = _live_config(tmp_path, mosquitto.url, "[storage.caps.transactional]\nmax_rows = 1\nmax_bytes = 1048576\n")
    node = NodeRuntime(config)
    assert node.station is not None
    station = node.station
    order: list[str] = []

    async def feed(event):
        order.append(f"lane got {type(event).__name__}")
        return await real_feed(event)

    real_feed = station.runner.feed
    mocker.patch.object(station.runner, "feed", side_effect=feed)
    real_start = station.start

    async def start():
        # a command arrives while the lane is not recovered yet
        await _until(lambda: node.link.connected, 10, "the link connects before the lane recovers")
        await asyncio.sleep(0.3)  # SUBACK
        command = _command("lane_mode", {"lane": "lane-1", "mode": "manual"}, "01JDCMD000000000000000B2AA")
        await asyncio.to_thread(platform.publish, "portedge/v1/t/lane-1/cmd/lane_mode", command)
        await _until(lambda: node.link._desk.waiting == 1, 10, "the command reached the desk")
        await asyncio.sleep(0.2)  # it would have run by now if it were taken
        order.append("recovering")
        aborted = await real_start()
        order.append("recovered")
        return aborted

    mocker.patch.object(station, "start", side_effect=start)

    async def life() -> None:
        # what the last run left: the class at its cap, and a transaction cut short
        await node.outbox.aput("scan", Scan(device="scan-1", data="TRUCK-1"), "transactional")
        await station.journal.save("lane-1", "tx-cut-short", {
            "transaction_id": "tx-cut-short", "state": "VERIFYING", "started_at": datetime.now(UTC).isoformat()})
        try:
            async with asyncio.timeout(20):  # the record would wait 30 s for room that never came
                await node.start()
            await _until(lambda: platform.payloads("/res/lane_mode"), 10, "the command is answered")
        finally:
            await node.close()

    try:
        asyncio.run(life())
    finally:
        platform.close()
    assert order == ["recovering", "recovered", "lane got SetMode"]
    [aborted] = platform.payloads("/evt/gate_transaction")
    assert aborted["body"]["transaction_id"] == "tx-cut-short" and aborted["body"]["outcome"] == "aborted"
    [answer] = platform.payloads("/res/lane_mode")
    assert answer["ok"] is True
    reopened = NodeRuntime(config)
    try:
        assert reopened.station is not None and reopened.station.journal.drafts("lane-1") == []
    finally:
        asyncio.run(_close_unstarted(reopened))


def test_a_command_arriving_while_the_workflows_close_is_not_run_nor_answered(tmp_path, mosquitto, mocker):
    """Once the node stops, the link takes no more commands before any workflow closes its
    store: a command then is left for the platform to send again, never answered `internal`
    (an answer kept 24 h under its id would refuse the re-sent one)."""
    platform = Collector(mosquitto.port, ["portedge/v1/t/lane-1/#"])
    node = NodeRuntime(_live_config(tmp_path, mosquitto.url))
    assert node.station is not None
    cmd_id = "01JDCMD000000000000000R3AA"
    seen: dict[str, object] = {}
    real_close = node.station.close

    async def close():
        await real_close()  # the gate store is closed now
        command = _command("permits_sync", {"version": 7, "permits": []}, cmd_id)
        await asyncio.to_thread(platform.publish, "portedge/v1/t/lane-1/cmd/permits_sync", command)
        link = node.link
        await _until(lambda: link._errors["command_not_taken"] or node.outbox.answer_for(cmd_id), 10,
                     "the command reached the node")
        seen["answer"] = node.outbox.answer_for(cmd_id)
        seen["internal"] = link._errors["command_internal"]

    mocker.patch.object(node.station, "close", side_effect=close)

    async def life() -> None:
        await node.start()
        await _until(lambda: node.link.connected, 10, "connected")
        await asyncio.sleep(0.3)  # SUBACK
        await node.close()

    try:
        asyncio.run(life())
    finally:
        platform.close()
    assert seen == {"answer": None, "internal": 0}
    assert node.link._errors["command_not_taken"] == 1
    assert platform.payloads("/res/permits_sync") == []
