"""The agent core the PDA app runs in-process, on the app's asyncio loop: outbox, link, task
board and the serial/Bluetooth scanners, wired to one presenter.

    scanner driver --Scan--> PdaCore.emit --> presenter.scan --> board --> outbox --> link
    keyboard wedge ------------------------> presenter.scan (from the Kivy window)
    platform --cmd/task_assign|task_cancel--> link --> board --> presenter (observer)

The presenter never sees the outbox or the link: it gets `online()` and `waiting()` as plain
callables, refreshed once a second here. This module must never import Kivy.
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.model import NodeConfig, PdaSection
from agent.contract.devices import Scan
from agent.contract.node import DeviceStatus
from agent.devices.registry import build_drivers
from agent.devices.supervisor import Supervisor
from agent.link.link import Link
from agent.outbox import Outbox
from agent.tasks import Board
from pda_app.presenter import Presenter

log = logging.getLogger(__name__)

STATUS_POLL_S = 1.0


def board_path(config: NodeConfig) -> Path:
    """The task board's SQLite file, beside the outbox's: `pda-07.db` -> `pda-07.tasks.db`."""
    path = Path(config.storage.path)
    return path.with_name(f"{path.stem}.tasks{path.suffix or '.db'}")


class PdaCore:
    def __init__(self, config: NodeConfig, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        self.config = config
        storage = config.storage
        Path(storage.path).parent.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(storage.path, config.node.id, caps=storage.caps, synchronous=storage.synchronous,
                             group_commit_ms=storage.group_commit_ms, clock=clock)
        self.link = Link(config, self.outbox, clock=clock, rng=rng)
        pda = config.pda or PdaSection()
        self.board = Board(board_path(config), node=config.node.id, recorder=self.outbox, requester=self.link,
                           clock=clock, config=pda)
        for name, handler in self.board.command_handlers().items():
            self.link.register_command(name, handler)
        self.supervisor = Supervisor(build_drivers(config, self, clock), clock, rng)
        self._online = False
        self._waiting = 0
        self.presenter = Presenter(self.board, online=lambda: self._online, waiting=lambda: self._waiting,
                                   lang=pda.language)
        self.device_status: dict[str, DeviceStatus] = {}
        self._poll: asyncio.Task | None = None
        self._devices: asyncio.Task | None = None

    # -- agent.interfaces.DeviceSink ------------------------------------------------------
    async def emit(self, device: str, event: Any) -> None:
        """A serial/Bluetooth scanner's read goes the same way as a wedge scan; the board
        commits its evidence before this returns, so the driver may ACK the scanner after."""
        if isinstance(event, Scan):
            await self.presenter.scan(event.data, source=device)
        elif isinstance(event, DeviceStatus):
            self.device_status[device] = event
        else:
            log.debug("PDA ignores %s from %s", type(event).__name__, device)

    # -- life -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.board.start()
        await self.link.start()
        self._devices = self.supervisor.start()
        self._poll = asyncio.get_running_loop().create_task(self._watch(), name="pda-status")

    async def stop(self) -> None:
        if self._poll:
            self._poll.cancel()
            await asyncio.gather(self._poll, return_exceptions=True)
        await self.supervisor.stop()
        if self._devices:
            await asyncio.gather(self._devices, return_exceptions=True)
        await self.link.stop()
        self.presenter.close()
        self.board.close()
        self.outbox.close()

    def refresh(self) -> bool:
        """Re-read link and outbox state; True (and the screens redrawn) when it changed."""
        online = self.link.connected
        waiting = self.outbox.stats().depth + self.board.unsent()
        if (online, waiting) == (self._online, self._waiting):
            return False
        self._online, self._waiting = online, waiting
        self.presenter.changed()
        return True

    async def _watch(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the status bar must never stop the app
                log.exception("PDA status refresh failed")
            await asyncio.sleep(STATUS_POLL_S)
