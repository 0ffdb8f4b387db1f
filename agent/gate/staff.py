"""The gate clerk's actions (the booth console calls these), each through the lane's table and
barrier guard exactly as a platform command is: re-read, open and lane mode call the very
command handlers the link calls, with a locally made, expiring command; an allow on a truck
in TROUBLE is the same release (`LaneCommands.release`); a box correction, a staff deny and a
close are lane events. Whether the lane may do any of them is the table's rule: a refusal
comes back from the lane's turn with its reason. Every action, done or refused, is awaited
into the audit log and published as a `staff_action` record.

Never: write a coil, change the lane's state other than through `LaneRunner.feed`, or report
an action done before its audit entry is on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeGuard, get_args

from pydantic import BaseModel

from agent.contract.devices import ContainerPosition
from agent.contract.envelope import Command, new_id
from agent.contract.gate import (
    LaneMode,
    LaneModeName,
    RemoteOpen,
    Reread,
    StaffAction,
    StaffActionKind,
)
from agent.errors import InvalidCommandError
from agent.gate import events as ev
from agent.identifiers.container import check_container

if TYPE_CHECKING:
    from agent.audit import AuditLog
    from agent.gate.station import GateStation

log = logging.getLogger(__name__)
#: a staff action is as fresh as a platform command: it must not be carried out later than this
STAFF_TTL_S = 10.0
#: an action's way to the lane, called only once it can be audited
Work = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Outcome:
    action: str
    done: bool
    reason: str
    audit_seq: int | None


class StaffDesk:
    def __init__(self, station: GateStation, audit: AuditLog | None):
        self.station, self.audit = station, audit
        self.runner, self.clock, self.commands = station.runner, station.clock, station.commands
        self._handlers = station.command_handlers()

    # -- the actions ----------------------------------------------------------------------
    async def reread(self, operator: str) -> Outcome:
        return await self._run(operator, "reread", "", {}, lambda: self._command("reread", Reread(lane=self._lane)))

    async def set_mode(self, operator: str, mode: LaneModeName, reason: str) -> Outcome:
        return await self._run(operator, "mode", reason, {"mode": mode},
                               lambda: self._command("lane_mode", LaneMode(lane=self._lane, mode=mode)))

    async def open(self, operator: str, reason: str) -> Outcome:
        return await self._run(operator, "open", reason, {}, lambda: self._release(operator, reason))

    async def decide(self, operator: str, allow: bool, reason: str) -> Outcome:
        detail = {"allow": "yes" if allow else "no"}
        if allow:
            return await self._run(operator, "decide", reason, detail, lambda: self.commands.release(
                operator, reason or "staff release", self._expiry(), in_trouble=True))
        return await self._run(operator, "decide", reason, detail, lambda: self.commands.carry_out(
            ev.StaffDeny(operator, reason or "refused by staff")))

    async def correct(self, operator: str, position: str, number: str, reason: str) -> Outcome:
        detail = {"position": position, "number": number}
        checked = check_container(number)
        if not checked.ok or checked.value is None:
            return await self._refused(operator, "correct_container", reason, detail, f"not an ISO 6346 number: {checked.reason}")
        if not _is_position(position):
            return await self._refused(operator, "correct_container", reason, detail, f"no such position {position!r}")
        event = ev.CorrectContainer(operator, position, checked.value)
        detail["number"] = checked.value
        return await self._run(operator, "correct_container", reason, detail, lambda: self.commands.carry_out(event))

    async def close(self, operator: str, reason: str) -> Outcome:
        return await self._run(operator, "close", reason, {},
                               lambda: self.commands.carry_out(ev.StaffClose(operator, reason)))

    # -- how each goes to the lane --------------------------------------------------------
    @property
    def _lane(self) -> str:
        return self.station.settings.lane

    def _expiry(self) -> datetime:
        return self.clock.now() + timedelta(seconds=STAFF_TTL_S)

    def _command(self, name: str, body: BaseModel) -> Awaitable[BaseModel | None]:
        """The handler the link would call, with a command made here (fresh: its expiry is
        STAFF_TTL_S ahead, and travels with an open to the barrier guard)."""
        now = self.clock.now()
        command = Command[type(body)](id=new_id(), node=self._lane, type=name, body=body, reply_to="console", correlation_id="console",
                                      ts=now, expires_at=now + timedelta(seconds=STAFF_TTL_S))
        return self._handlers[name](command)

    def _release(self, operator: str, reason: str) -> Awaitable[BaseModel | None]:
        return self._command("barrier_open", RemoteOpen(lane=self._lane, reason=reason or "staff release", operator=operator))

    # -- outcome, audit, record -----------------------------------------------------------
    async def _run(self, operator: str, action: StaffActionKind, reason: str, detail: dict[str, str],
                   work: Work) -> Outcome:
        if self.audit is not None and not self.audit.writable:  # no action that cannot be audited
            return Outcome(action, False, "; ".join(self.audit.degraded()) or "audit log not writable", None)
        try:
            await work()
        except InvalidCommandError as err:
            return await self._refused(operator, action, reason, detail, err.reason)
        return await self._book(operator, action, reason, detail, None)

    async def _refused(self, operator: str, action: StaffActionKind, reason: str, detail: dict[str, str], why: str) -> Outcome:
        log.info("staff %s by %s refused: %s", action, operator, why)
        return await self._book(operator, action, reason, detail, why)

    async def _book(self, operator: str, action: StaffActionKind, reason: str, detail: dict[str, str],
                    refused: str | None) -> Outcome:
        tx = self.runner.lane.tx
        tid = tx.transaction_id if tx else None
        seq = None
        if self.audit is not None:
            entry = await self.audit.record("staff", operator, action if refused is None else f"{action} refused", {
                **detail, "reason": reason, **({"refused": refused} if refused else {}),
                **({"transaction_id": tid} if tid else {})})
            seq = entry.seq
        record = StaffAction(lane=self._lane, operator=operator, action=action, outcome="refused" if refused else "done",
                             reason=(refused or reason)[:500], transaction_id=tid, detail=detail, audit_seq=seq)
        try:
            await self.station.recorder.record("staff_action", record, "transactional")
        except Exception:  # audited already; the record is retried by nobody, so say so
            log.exception("staff_action not recorded")
            self.runner.counters["record_failed.staff_action"] += 1
        return Outcome(action, refused is None, refused or reason, seq)


def _is_position(position: str) -> TypeGuard[ContainerPosition]:
    return position in get_args(ContainerPosition)
