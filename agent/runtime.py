"""One node at run time: outbox, link, device drivers and the node's workflow, on one loop.

    drivers --emit--> NodeRuntime.emit --record (outbox, committed)--> then --> workflow
    link <--commands-- platform;  workflow --record/request--> outbox / link

A gate node runs a `GateStation` (its `[gate]` section names the lane's devices); a PDA node
runs a task `Board` (the Kivy app adds its presenter on top, see pda_app/core.py). `run()`
starts in a safe order (link, then the workflow's recovery and safe state, then devices) and
stops in the reverse order, closing the outbox last so nothing committed is lost.

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
from typing import Any

from agent.audit import AuditLog
from agent.audit.watch import AUDITED_COMMANDS, AuditWatch, ObservedRecorder, audited_command
from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.model import NodeConfig, PdaSection
from agent.contract.devices import CameraRead, Scan, Weight
from agent.contract.node import DeviceStatus
from agent.devices.registry import build_drivers
from agent.devices.supervisor import Supervisor
from agent.errors import ConfigError
from agent.link import Link
from agent.outbox import Outbox
from agent.storage import gate_db, sibling_db

__all__ = ["RECORDED", "NodeRuntime", "sibling_db"]

log = logging.getLogger(__name__)

#: contract events from devices -> (message type, outbox priority class)
RECORDED: dict[type, tuple[str, str]] = {
    Scan: ("scan", "transactional"),
    CameraRead: ("camera_read", "telemetry"),
    Weight: ("weight", "telemetry"),
    DeviceStatus: ("device_status", "telemetry"),
}


def sibling_path(config: NodeConfig, suffix: str) -> Path:
    """A file beside the outbox's: `lane-1.db` -> `lane-1.audit.jsonl`."""
    path = Path(config.storage.path)
    return path.with_name(f"{path.stem}.{suffix}")


class NodeRuntime:
    def __init__(self, config: NodeConfig, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None,
                 source: str = "(config)", on_scan: Callable[[str, str], Awaitable[Any]] | None = None):
        """`on_scan(data, device)` takes a PDA's committed scans instead of the board itself
        (the app routes them through its presenter, so the driver sees the answer)."""
        self.config = config
        self.clock = clock
        self.device_status: dict[str, DeviceStatus] = {}
        storage = config.storage
        self.outbox = Outbox(storage.path, config.node.id, caps=storage.caps, synchronous=storage.synchronous,
                             group_commit_ms=storage.group_commit_ms, clock=clock)
        self.link = Link(config, self.outbox, clock=clock, rng=rng)
        self.recorder = ObservedRecorder(self.outbox)  # the audit log and the console watch it
        self.audit: AuditLog | None = None
        self.station = None
        self.board = None
        self.people = None
        self.console = None  # the booth console, when the config has [console]
        self._on_scan = on_scan
        try:
            self.drivers = build_drivers(config, self, clock)
            if config.node.role == "gate":
                if config.gate is not None or config.personnel is None:  # a turnstile-only node has no [gate]
                    self._build_gate(source)
            else:
                self._build_board()
            if config.personnel is not None:
                self._build_people(source)
        except BaseException:  # e.g. a store the node may not open: stop the writer threads too
            if self.audit is not None:
                self.audit.close()
            self.outbox.close()
            raise
        self.supervisor = Supervisor(self.drivers, clock, rng)
        self.counters: dict[str, int] = {}
        self._tasks: list[asyncio.Task] = []

    def _build_gate(self, source: str) -> None:
        from agent.gate.station import GateStation

        gate = self.config.gate
        if gate is None:
            raise ConfigError(source, [("gate", "a node with role 'gate' needs a [gate] section")])
        io = next((d for d in self.drivers if d.name == gate.io), None) if gate.io else None
        if gate.io and io is None:
            raise ConfigError(source, [("gate.io", f"no device named {gate.io!r}")])
        gate = gate.model_copy(update={"state_path": gate_db(self.config)})  # default: beside the outbox
        self.audit = audit = AuditLog(sibling_path(self.config, "audit.jsonl"), gate.lane, clock=self.clock)
        self.recorder.observers.append(AuditWatch(audit))
        self.link.audit_head = lambda: audit.head
        self.station = GateStation(gate, self.recorder, self.link, port=io, clock=self.clock,
                                   reconcile_every_s=gate.reconcile_s)
        self.link.add_health_source(self.station.storage_reasons)
        for name, handler in self.station.command_handlers().items():
            if name in AUDITED_COMMANDS:
                handler = audited_command(self.audit, name, handler)
            self.link.register_command(name, handler)

    def _build_people(self, source: str) -> None:
        from agent.personnel.privacy import SiteKey
        from agent.personnel.station import PersonnelStation

        cfg = self.config.personnel
        assert cfg is not None
        names = {d.name: d for d in self.drivers}
        problems = [("personnel.readers", f"no device named {r!r}") for r in cfg.readers if r not in names]
        if cfg.turnstile not in names:
            problems.append(("personnel.turnstile", f"no device named {cfg.turnstile!r}"))
        if problems:
            raise ConfigError(source, problems)
        if cfg.state_path == Path("var/people.db"):  # default: beside this node's outbox
            cfg = cfg.model_copy(update={"state_path": sibling_db(self.config, "people")})
        self.people = PersonnelStation(cfg, self.outbox, self.link, SiteKey.load(cfg.site_key_file, source),
                                       turnstile=names[cfg.turnstile], clock=self.clock)
        for name, handler in self.people.command_handlers().items():
            self.link.register_command(name, handler)

    def _build_board(self) -> None:
        from agent.tasks import Board

        self.board = Board(sibling_db(self.config, "tasks"), node=self.config.node.id, recorder=self.outbox,
                           requester=self.link, clock=self.clock, config=self.config.pda or PdaSection(),
                           synchronous=self.config.storage.synchronous)
        self.link.add_health_source(self.board.storage_reasons)
        for name, handler in self.board.command_handlers().items():
            self.link.register_command(name, handler)
        if self._on_scan is None:
            self._on_scan = self._board_scan

    async def _board_scan(self, data: str, device: str) -> None:
        assert self.board is not None  # installed by _build_board with the board
        result = await self.board.scan(data)
        log.info("scan %r from %s: %s", data, device, result.code)

    # -- DeviceSink -------------------------------------------------------------------------
    async def emit(self, device: str, event: Any) -> None:
        recorded = RECORDED.get(type(event))
        if recorded is not None:
            type_, priority = recorded
            await self.recorder.record(type_, event, priority)  # raises on a full store: the device is not acked
        if isinstance(event, DeviceStatus):
            self.device_status[device] = event
        if self.station is not None:
            await self.station.emit(device, event)
        elif self._on_scan is not None and isinstance(event, Scan):
            await self._on_scan(event.data, device)
        if self.people is not None:
            await self.people.emit(device, event)

    # -- life ---------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then shut down in order."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.close()

    async def start(self) -> None:
        if self.board is not None:
            await self.board.start()  # replay unsent task updates before anything new
        await self.link.start()
        if self.station is not None:
            await self.station.start()
            self._tasks.append(asyncio.create_task(self.station.run(), name="gate-station"))
            if self.config.console is not None:
                from agent.console.app import start_console  # imported only when configured

                self.console = await start_console(self)
        if self.people is not None:
            await self.people.start()
            self._tasks.append(asyncio.create_task(self.people.run(), name="personnel-station"))
        self._tasks.append(self.supervisor.start())

    async def close(self) -> None:
        if self.console is not None:
            await self.console.close()
            self.console = None
        await self.supervisor.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.station is not None:
            await self.station.close()
        if self.people is not None:
            await self.people.close()
        if self.board is not None:
            self.board.close()
        await self.link.stop()
        if self.audit is not None:
            self.audit.close()
        self.outbox.close()
