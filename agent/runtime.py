"""One node at run time: outbox, link, device drivers and the node's workflows, on one loop.

    drivers --emit--> NodeRuntime.emit --record (outbox, committed)--> then --> workflows
    link <--commands-- platform;  workflows --record/request--> outbox / link

The workflows (`agent.interfaces.Workflow`) come from the config, one builder per section
(`BUILDERS`): `[gate]` a `GateStation` (and the booth console with `[console]`), `[personnel]`
a `PersonnelStation`, a PDA node its task `Board` (the Kivy app routes the board's scans
through its presenter, see pda_app/core.py). The runtime treats them all alike.

`run()` starts in a safe order: the link first, holding commands, so it drains the outbox
(a lane's recovery records its interrupted transaction, and a full outbox must have room
made for it); then the workflows' `start()` (the board replays unsent updates, the lanes
record interrupted transactions and put barrier and turnstile in their safe state); only
then does the link take commands, so none is handled against an unrecovered lane; then the
workflows' `run()`; then the devices. It stops the intake first (the booth console, then the
link's commands, the running ones given `COMMAND_GRACE_S` to finish), so no command meets a
closed workflow; then devices, workflows (in reverse), the link, and the outbox last, so
nothing committed is lost.

Never: hand a scan, weight or camera read to a workflow before it is committed to the outbox
— the device may be acknowledged as soon as `emit` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.audit import AuditLog
from agent.audit.watch import AUDITED_COMMANDS, AuditWatch, ObservedRecorder, audited_command
from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.model import NodeConfig, PdaSection
from agent.contract.devices import CameraRead, Scan, Weight
from agent.contract.node import DeviceStatus
from agent.devices.registry import build_drivers
from agent.devices.supervisor import Supervisor
from agent.errors import ConfigError
from agent.interfaces import Handler, Workflow
from agent.link import Link
from agent.outbox import Outbox
from agent.storage import gate_db, people_db, sibling_db

if TYPE_CHECKING:
    from agent.console.app import Console
    from agent.gate.station import GateStation
    from agent.personnel.station import PersonnelStation
    from agent.tasks.board import Board

__all__ = ["BUILDERS", "RECORDED", "NodeRuntime", "sibling_db"]

log = logging.getLogger(__name__)

#: contract events from devices -> (message type, outbox priority class)
RECORDED: dict[type, tuple[str, str]] = {
    Scan: ("scan", "transactional"),
    CameraRead: ("camera_read", "telemetry"),
    Weight: ("weight", "telemetry"),
    DeviceStatus: ("device_status", "telemetry"),
}

ScanRoute = Callable[[str, str], Awaitable[Any]]

#: seconds a running command may take to finish when the node stops
COMMAND_GRACE_S = 5.0


def sibling_path(config: NodeConfig, suffix: str) -> Path:
    """A file beside the outbox's: `lane-1.db` -> `lane-1.audit.jsonl`."""
    path = Path(config.storage.path)
    return path.with_name(f"{path.stem}.{suffix}")


class NodeRuntime:
    def __init__(self, config: NodeConfig, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None,
                 source: str = "(config)", on_scan: ScanRoute | None = None):
        """`on_scan(data, device)` takes a PDA's committed scans instead of the board itself
        (the app routes them through its presenter, so the driver sees the answer)."""
        self.config = config
        self.clock = clock
        self.source = source
        self.on_scan = on_scan
        self.device_status: dict[str, DeviceStatus] = {}
        storage = config.storage
        caps = {str(name): cap for name, cap in storage.caps.items()}
        self.outbox = Outbox(storage.path, config.node.id, caps=caps, synchronous=storage.synchronous,
                             group_commit_ms=storage.group_commit_ms, clock=clock)
        self.link = Link(config, self.outbox, clock=clock, rng=rng)
        self.recorder = ObservedRecorder(self.outbox)  # the audit log and the console watch it
        self.audit: AuditLog | None = None  # a gate node's audit log (agent.audit)
        # the workflows by name, for the parts that read one (console, metrics, simulators)
        self.station: GateStation | None = None
        self.board: Board | None = None
        self.people: PersonnelStation | None = None
        self.console: Console | None = None  # the booth console, when the config has [console]
        self.workflows: list[Workflow] = []
        try:
            self.drivers = build_drivers(config, self, clock)
            for build in BUILDERS:
                self.workflows += build(self)
            for workflow in self.workflows:
                self._wire(workflow)
        except BaseException:  # e.g. a store the node may not open: stop the writer threads too
            if self.audit is not None:
                self.audit.close()
            self.outbox.close()
            raise
        self.supervisor = Supervisor(self.drivers, clock, rng)
        self._tasks: list[asyncio.Task] = []

    def device(self, name: str | None, key: str) -> Any:
        """The driver named `name` (None for None); a ConfigError naming `key` when there is none."""
        if name is None:
            return None
        found = next((d for d in self.drivers if d.name == name), None)
        if found is None:
            raise ConfigError(self.source, [(key, f"no device named {name!r}")])
        return found

    def _wire(self, workflow: Workflow) -> None:
        self.link.add_health_source(workflow.storage_reasons)
        for name, handler in workflow.command_handlers().items():
            if self.audit is not None and name in AUDITED_COMMANDS:
                handler = audited_command(self.audit, name, handler)
            self.link.register_command(name, handler)

    # -- DeviceSink -------------------------------------------------------------------------
    async def emit(self, device: str, event: Any) -> None:
        recorded = RECORDED.get(type(event))
        if recorded is not None:
            type_, priority = recorded
            await self.recorder.record(type_, event, priority)  # raises on a full store: the device is not acked
        if isinstance(event, DeviceStatus):
            self.device_status[device] = event
        for workflow in self.workflows:
            await workflow.emit(device, event)

    # -- life ---------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then shut down in order."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.close()

    async def start(self) -> None:
        await self.link.start(commands=False)  # drains the outbox: recovery may need its room
        try:
            for workflow in self.workflows:
                await workflow.start()  # recovery, safe state, replay: before any command runs
        except BaseException:
            await self.link.stop()
            raise
        self.link.take_commands()
        for workflow in self.workflows:
            self._tasks.append(asyncio.create_task(workflow.run(), name=f"workflow-{type(workflow).__name__}"))
        self._tasks.append(self.supervisor.start())

    async def close(self) -> None:
        for workflow in self.workflows:
            if isinstance(workflow, ConsoleWorkflow):  # staff act on the lane through it
                await workflow.close()
        await self.link.stop_commands(COMMAND_GRACE_S)  # before any workflow closes under a command
        await self.supervisor.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for workflow in reversed(self.workflows):
            if isinstance(workflow, ConsoleWorkflow):
                continue  # closed first, above
            try:
                await workflow.close()
            except Exception:  # the next ones, the link and the outbox must still close
                log.exception("closing %s failed", type(workflow).__name__)
        await self.link.stop()
        if self.audit is not None:
            self.audit.close()
        self.outbox.close()


# -- one builder per config section -------------------------------------------------------------

def _gate(node: NodeRuntime) -> list[Workflow]:
    """`[gate]`: the lane's station, its audit log, and the booth console with `[console]`."""
    config = node.config
    if config.node.role != "gate" or (config.gate is None and config.personnel is not None):
        return []  # a turnstile-only node has no [gate]
    from agent.gate.station import GateStation

    gate = config.gate
    if gate is None:
        raise ConfigError(node.source, [("gate", "a node with role 'gate' needs a [gate] section")])
    io = node.device(gate.io, "gate.io")
    gate = gate.model_copy(update={"state_path": gate_db(config)})
    node.audit = audit = AuditLog(sibling_path(config, "audit.jsonl"), gate.lane, clock=node.clock)
    node.recorder.observers.append(AuditWatch(audit))
    node.link.audit_head = lambda: audit.head
    node.station = GateStation(gate, node.recorder, node.link, port=io, clock=node.clock,
                               reconcile_every_s=gate.reconcile_s)
    return [node.station] if config.console is None else [node.station, ConsoleWorkflow(node)]


def _people(node: NodeRuntime) -> list[Workflow]:
    """`[personnel]`: a restricted-area lane's turnstile."""
    cfg = node.config.personnel
    if cfg is None:
        return []
    from agent.personnel.privacy import SiteKey
    from agent.personnel.station import PersonnelStation

    names = {d.name for d in node.drivers}
    problems = [("personnel.readers", f"no device named {r!r}") for r in cfg.readers if r not in names]
    if cfg.turnstile not in names:
        problems.append(("personnel.turnstile", f"no device named {cfg.turnstile!r}"))
    if problems:
        raise ConfigError(node.source, problems)
    cfg = cfg.model_copy(update={"state_path": people_db(node.config)})
    node.people = PersonnelStation(cfg, node.outbox, node.link, SiteKey.load(cfg.site_key_file, node.source),
                                   turnstile=node.device(cfg.turnstile, "personnel.turnstile"), clock=node.clock)
    return [node.people]


def _pda(node: NodeRuntime) -> list[Workflow]:
    """A PDA node: the forklift task board (`[pda]` optional)."""
    config = node.config
    if config.node.role != "pda":
        return []
    from agent.tasks.board import Board

    node.board = Board(sibling_db(config, "tasks"), node=config.node.id, recorder=node.outbox, requester=node.link,
                       clock=node.clock, config=config.pda or PdaSection(), synchronous=config.storage.synchronous)
    node.board.scan_route = node.on_scan
    return [node.board]


#: the workflow builders, in start order: each returns what its config section asks for
BUILDERS: tuple[Callable[[NodeRuntime], list[Workflow]], ...] = (_gate, _people, _pda)


class ConsoleWorkflow:
    """The booth console (agent.console) as one of a gate node's workflows: served after the
    station recovered, closed before it. It takes no device events and no commands."""

    def __init__(self, node: NodeRuntime):
        self.node = node

    async def start(self) -> None:
        from agent.console.app import start_console  # imported only when configured

        self.node.console = await start_console(self.node)

    async def run(self) -> None:
        return None

    async def emit(self, device: str, event: Any) -> None:
        return None

    async def close(self) -> None:
        if self.node.console is not None:
            await self.node.console.close()
            self.node.console = None

    def command_handlers(self) -> dict[str, Handler]:
        return {}

    def storage_reasons(self) -> list[str]:
        return []
