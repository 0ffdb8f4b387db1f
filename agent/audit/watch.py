"""What the gate records, watched: the audit log's entries from the lane's own records.

`ObservedRecorder` stands between the node's producers and its outbox: it tells its
observers what is being recorded (before the commit: a barrier that moved is audited even if
the outbox is full), then records it. `AuditWatch` is the observer that turns barrier
movements, mode changes, decisions and finished transactions into audit entries.

Never: let an observer's failure stop a record, or block the lane on an audit fsync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from agent.audit.log import AuditLog
from agent.contract.gate import GateTransaction, LaneEvent
from agent.errors import AuditFullError

log = logging.getLogger(__name__)
Observer = Callable[[str, BaseModel], None]


class ObservedRecorder:
    """A `Recorder` that shows each record to its observers, then hands it to `inner`."""

    def __init__(self, inner: Any, observers: list[Observer] | None = None):
        self.inner = inner
        self.observers: list[Observer] = list(observers or [])

    async def record(self, type: str, body: BaseModel, priority: str = "transactional") -> Any:
        for observer in self.observers:
            try:
                observer(type, body)
            except Exception:
                log.exception("record observer failed on %s", type)
        return await self.inner.record(type, body, priority)


def decision_of(detail: str) -> tuple[str, str, str]:
    """Split a DECIDED state event's detail ("allow by platform: reason") into its parts."""
    head, _, reason = detail.partition(": ")
    verdict, _, by = head.partition(" by ")
    return verdict, by or "lane", reason


class AuditWatch:
    def __init__(self, audit: AuditLog):
        self.audit = audit

    def __call__(self, type_: str, body: BaseModel) -> None:
        try:
            self._observe(type_, body)
        except AuditFullError as err:
            log.error("audit entry refused: %s", err)

    def _observe(self, type_: str, body: BaseModel) -> None:
        if isinstance(body, LaneEvent):
            tid = {"transaction_id": body.transaction_id} if body.transaction_id else {}
            if body.what == "barrier":
                self.audit.append("barrier", "lane", body.value, tid | ({"why": body.detail} if body.detail else {}))
            elif body.what == "mode":
                self.audit.append("mode", "lane", body.value, tid)
            elif body.what == "state" and body.value == "DECIDED" and body.detail:
                verdict, by, reason = decision_of(body.detail)
                self.audit.append("decision", by, verdict, tid | {"reason": reason})
        elif isinstance(body, GateTransaction):
            d = body.decision
            self.audit.append("transaction", "lane", body.outcome, {
                "transaction_id": body.transaction_id, "plate": body.plate.text if body.plate else "",
                "containers": ",".join(c.number for c in body.containers),
                "decision": f"{'allow' if d.allow else 'deny'} by {d.by}" if d else "",
                "trouble": body.trouble_reason or ""})


#: platform commands that act on the lane: audited as they are answered (permits_sync is not)
AUDITED_COMMANDS = ("barrier_open", "lane_mode", "reread")


def audited_command(audit: AuditLog, name: str, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a platform command handler: its outcome (done, or refused and why) is audited."""
    from agent.errors import InvalidCommandError

    async def run(command: Any) -> Any:
        body = command.body if isinstance(command.body, dict) else command.body.model_dump(mode="json")
        actor = str(body.get("operator") or "platform")
        detail = {"command_id": command.id} | {k: str(v) for k, v in body.items() if k != "operator"}
        try:
            result = await handler(command)
        except InvalidCommandError as err:
            _append(audit, "command", actor, f"{name} refused", detail | {"refused": err.reason})
            raise
        _append(audit, "command", actor, name, detail)
        return result

    return run


def _append(audit: AuditLog, kind: str, actor: str, what: str, detail: dict[str, Any]) -> None:
    try:
        audit.append(kind, actor, what, detail)
    except AuditFullError as err:
        log.error("audit entry refused: %s", err)
