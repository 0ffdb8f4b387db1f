"""The runtime holds a list of workflows built from the config (agent.runtime.BUILDERS) and
treats them alike: start before the link, run after it, close in reverse, the outbox last.
The link is replaced at its seam (no broker here); the workflows are the real ones."""

from __future__ import annotations

import asyncio
import os
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
    mocker.patch.object(node.link, "start", side_effect=lambda: order.append("link.start"))
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


def test_workflows_start_before_the_link_and_close_after_it_stops_taking_commands(tmp_path, mocker):
    node = NodeRuntime(_config(tmp_path, "lane-1", "gate", '[gate]\nlane = "lane-1"\n'))
    order: list[str] = []
    _stub_link(node, order, mocker)
    assert node.station is not None
    _watch(order, node.station, "start", "station.start", mocker)
    _watch(order, node.station, "run", "station.run", mocker)
    _watch(order, node.station, "close", "station.close", mocker)
    _watch(order, node.supervisor, "stop", "devices.stop", mocker)
    mocker.patch.object(node.outbox, "close", side_effect=lambda real=node.outbox.close: (order.append("outbox.close"),
                                                                                          real()))

    async def life() -> None:
        await node.start()
        await asyncio.sleep(0.05)  # the run task starts
        await node.close()

    asyncio.run(life())
    assert order == ["station.start", "link.start", "station.run", "devices.stop", "station.close", "link.stop",
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
