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
from agent.runtime import NodeRuntime, sibling_db
from pda_app.presenter import Presenter

log = logging.getLogger(__name__)

STATUS_POLL_S = 1.0


def board_path(config: NodeConfig) -> Path:
    """The task board's SQLite file, beside the outbox's: `pda-07.db` -> `pda-07.tasks.db`."""
    return sibling_db(config, "tasks")


class PdaCore:
    """The headless PDA node (agent.runtime.NodeRuntime) plus the driver's presenter."""

    def __init__(self, config: NodeConfig, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        self.config = config
        self.node = NodeRuntime(config, clock=clock, rng=rng, on_scan=self._scan)
        self.outbox, self.link, self.board = self.node.outbox, self.node.link, self.node.board
        self.device_status = self.node.device_status
        self._online = False
        self._waiting = 0
        self.presenter = Presenter(self.board, online=lambda: self._online, waiting=lambda: self._waiting,
                                   lang=(config.pda or PdaSection()).language)
        self._poll: asyncio.Task | None = None

    async def _scan(self, data: str, device: str) -> None:
        """A serial/Bluetooth scanner's read goes the same way as a wedge scan; the board
        commits its evidence before this returns, so the driver may ACK the scanner after."""
        await self.presenter.scan(data, source=device)

    async def emit(self, device: str, event: Any) -> None:
        """agent.interfaces.DeviceSink (the node's own; kept for callers holding the core)."""
        await self.node.emit(device, event)

    # -- life -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.node.start()
        self._poll = asyncio.get_running_loop().create_task(self._watch(), name="pda-status")

    async def stop(self) -> None:
        if self._poll:
            self._poll.cancel()
            await asyncio.gather(self._poll, return_exceptions=True)
        self.presenter.close()
        await self.node.close()

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
