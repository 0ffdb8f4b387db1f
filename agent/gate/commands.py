"""Operator commands for a gate lane, as plain handlers the link registers:
`link.register_command(name, handler)`; each handler is `async (Command) -> BaseModel | None`
and refuses by raising `InvalidCommandError(code, reason)` (the link answers it as an error).

`LaneCommands` is owned by the station and knows only the lane's runner and permit store:
a command becomes a lane event, and whether the lane may carry it out is the table's rule
(agent/gate/table.py), answered as a `Refuse` of that very turn; nothing here reads the
lane's state or the barrier guard. The booth console (agent/gate/staff.py) calls the same
handlers, and `release` for its "allow" on a truck in TROUBLE.

A command's expiry is checked once, where it is received: the link's CommandDesk refuses an
expired command before any handler runs, and a console action is made here with a fresh
one. A remote open's expiry still travels with the release to the barrier guard, which
refuses an open not carried out in time (it may wait for the lane's turn).

Never: open the barrier when the lane cannot be made safe, or accept a command addressed to
another lane.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from agent.clock import Clock
from agent.config.model import GateSection
from agent.contract.envelope import Command, body_as
from agent.contract.gate import LaneMode, PermitsSync, RemoteOpen, Reread
from agent.errors import InvalidCommandError
from agent.gate import events as ev
from agent.gate.permits import PermitStore
from agent.gate.runner import LaneRunner
from agent.interfaces import Handler

log = logging.getLogger(__name__)


class LaneCommands:
    def __init__(self, settings: GateSection, runner: LaneRunner, permits: PermitStore, clock: Clock):
        self.settings, self.runner, self.permits, self.clock = settings, runner, permits, clock

    def handlers(self) -> dict[str, Handler]:
        """name -> handler for every gate command."""
        return {"barrier_open": self.barrier_open, "lane_mode": self.lane_mode,
                "permits_sync": self.permits_sync, "reread": self.reread}

    # -- the handlers ------------------------------------------------------------------------
    async def barrier_open(self, command: Command[Any]) -> None:
        body = body_as(command, RemoteOpen)
        self._ours(body.lane)
        await self.release(body.operator, body.reason, command.expires_at)

    async def lane_mode(self, command: Command[Any]) -> None:
        body = body_as(command, LaneMode)
        self._ours(body.lane)
        await self.carry_out(ev.SetMode(body.mode))

    async def permits_sync(self, command: Command[Any]) -> None:
        body = body_as(command, PermitsSync)
        if not await self.permits.replace(body):
            log.info("permits_sync version %d not newer than %d: ignored", body.version, self.permits.version)

    async def reread(self, command: Command[Any]) -> None:
        self._ours(body_as(command, Reread).lane)
        await self.carry_out(ev.Reread())

    # -- what they share -------------------------------------------------------------------
    async def release(self, operator: str, reason: str, expires_at: datetime, *, in_trouble: bool = False) -> None:
        """Open for staff: a remote open, or (`in_trouble`) the console's allow on a truck in
        TROUBLE. The command's own expiry travels with the release: it may wait for the lane's
        turn lock, and must still not be carried out once expired."""
        mono = self.clock.monotonic() + (expires_at - self.clock.now()).total_seconds()
        await self.carry_out(ev.StaffRelease(operator, reason, mono, in_trouble))

    async def carry_out(self, event: ev.Event) -> None:
        """Hand the lane a command's event; the table's refusal is raised as the answer."""
        refusal = await self.runner.feed(event)
        if refusal is not None:
            raise InvalidCommandError(refusal.code, refusal.reason)

    def _ours(self, lane: str) -> None:
        if lane != self.settings.lane:
            raise InvalidCommandError("refused", f"command is for lane {lane!r}, this is {self.settings.lane!r}")
