"""Operator commands for a gate lane, as plain handlers the link registers:
`link.register_command(name, handler)`; each handler is `async (Command) -> BaseModel | None`
and refuses by raising `InvalidCommandError(code, reason)` (the link answers it as an error).

Never: act on an expired command, open the barrier when the lane cannot be made safe, or
accept a command addressed to another lane.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agent.contract.envelope import Command, body_as
from agent.contract.gate import LaneMode, PermitsSync, RemoteOpen, Reread
from agent.errors import InvalidCommandError
from agent.gate import events as ev
from agent.gate.events import State
from agent.interfaces import Handler

if TYPE_CHECKING:
    from agent.gate.station import GateStation

log = logging.getLogger(__name__)
REREADABLE = (State.ARRIVED, State.IDENTIFIED, State.TROUBLE)




def handlers(station: GateStation) -> dict[str, Handler]:
    """name -> handler for every gate command."""
    runner, settings, clock = station.runner, station.settings, station.clock

    def fresh(command: Command[Any], lane: str) -> None:
        if lane != settings.lane:
            raise InvalidCommandError("refused", f"command is for lane {lane!r}, this is {settings.lane!r}")
        if command.expired(clock.now()):
            runner.counters[f"expired.{command.type}"] += 1
            log.warning("%s %s refused: expired at %s", command.type, command.id, command.expires_at.isoformat())
            raise InvalidCommandError("expired", f"command expired at {command.expires_at.isoformat()}")

    async def barrier_open(command: Command[Any]) -> None:
        body = body_as(command, RemoteOpen)
        fresh(command, body.lane)
        if not runner.guard.safe_to_actuate:
            raise InvalidCommandError("unsafe", "barrier cannot open: e-stop, controller lost or lane inputs unknown")
        if runner.lane.state in (State.BARRIER_OPEN, State.PASSED):
            raise InvalidCommandError("refused", f"the barrier is already open for a truck ({runner.lane.state.value})")
        # the command's own expiry travels with the release: it may wait for the lane's turn
        # lock, and must still not be carried out once expired
        expires_at = clock.monotonic() + (command.expires_at - clock.now()).total_seconds()
        await runner.feed(ev.StaffRelease(body.operator, body.reason, expires_at))
        if runner.lane.state not in (State.BARRIER_OPEN, State.PASSED) or not runner.guard.want_open:
            raise InvalidCommandError("refused", f"lane did not open (state {runner.lane.state.value})")
        return None

    async def lane_mode(command: Command[Any]) -> None:
        body = body_as(command, LaneMode)
        fresh(command, body.lane)
        await runner.feed(ev.SetMode(body.mode))
        return None

    async def permits_sync(command: Command[Any]) -> None:
        body = body_as(command, PermitsSync)
        if command.expired(clock.now()):
            raise InvalidCommandError("expired", f"command expired at {command.expires_at.isoformat()}")
        if not await station.permits.replace(body):
            log.info("permits_sync version %d not newer than %d: ignored", body.version, station.permits.version)
        return None

    async def reread(command: Command[Any]) -> None:
        body = body_as(command, Reread)
        fresh(command, body.lane)
        if runner.lane.state not in REREADABLE:
            raise InvalidCommandError("refused", f"nothing to re-read in state {runner.lane.state.value}")
        await runner.feed(ev.Reread())
        return None

    return {"barrier_open": barrier_open, "lane_mode": lane_mode, "permits_sync": permits_sync, "reread": reread}
