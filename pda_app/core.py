"""The agent core the PDA app runs in-process, on the app's asyncio loop: outbox, link, task
board and the serial/Bluetooth scanners, wired to one presenter.

    scanner driver --Scan--> PdaCore.emit --> presenter.scan --> board --> outbox --> link
    keyboard wedge ------------------------> presenter.scan (from the Kivy window)
    platform --cmd/task_assign|task_cancel--> link --> board --> presenter (observer)

The presenter never sees the outbox or the link: it reads one `Connectivity` (broker link,
platform contact, records waiting), which this core refreshes once a second and marks on every
command from the platform. This module must never import Kivy.
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
from pda_app.connectivity import Connectivity, LinkState
from pda_app.presenter import Presenter

log = logging.getLogger(__name__)

STATUS_POLL_S = 1.0


def board_path(config: NodeConfig) -> Path:
    """The task board's SQLite file, beside the outbox's: `pda-07.db` -> `pda-07.tasks.db`."""
    return sibling_db(config, "tasks")


def _as_shown(link: LinkState) -> tuple:
    """What the status bar draws of a snapshot: the contact age counts in whole minutes."""
    return link.reach, link.waiting, None if link.contact_age_s is None else int(link.contact_age_s // 60)


class PdaCore:
    """The headless PDA node (agent.runtime.NodeRuntime) plus the driver's presenter."""

    def __init__(self, config: NodeConfig, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        self.config = config
        self.node = NodeRuntime(config, clock=clock, rng=rng, on_scan=self._scan)
        self.outbox, self.link, self.board = self.node.outbox, self.node.link, self.node.board
        self.device_status = self.node.device_status
        self.connectivity = Connectivity()
        for name, handler in self.board.command_handlers().items():
            self.link.register_command(name, self._heard(handler))
        self.presenter = Presenter(self.board, link=self.connectivity, lang=(config.pda or PdaSection()).language)
        self._shown = _as_shown(self.connectivity.snapshot())
        self._poll: asyncio.Task | None = None

    def _heard(self, handler):
        """Wrap a command handler: a command from the platform is contact with the platform."""

        async def handle(command):
            self.connectivity.heard_platform()
            return await handler(command)

        return handle

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
        """Re-read link and outbox state; True (and the screens redrawn) when what the status
        bar says changed (the contact age counts in minutes, so mostly it has not)."""
        self.connectivity.set_broker(self.link.connected)
        self.connectivity.waiting = self.outbox.stats().depth + self.board.unsent()
        shown = _as_shown(self.connectivity.snapshot())
        if shown == self._shown:
            return False
        self._shown = shown
        self.presenter.changed()
        return True

    async def _watch(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the status bar must never stop the app
                log.exception("PDA status refresh failed")
            await asyncio.sleep(STATUS_POLL_S)
