"""Gate lane messages: transactions, lane events, verification, permits, operator commands."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from agent.contract.devices import CameraRead, Weight
from agent.contract.envelope import MAX_INT, Strict
from agent.contract.personnel import DriverRef

TransactionType = Literal["DI", "RE", "DM", "RM", "DC", "RC"]
DecidedBy = Literal["platform", "offline", "staff"]


class ContainerRead(Strict):
    number: str
    position: Literal["front", "rear", "top", "side", "unknown"] = "unknown"
    confidence: float = Field(ge=0, le=1)
    valid: bool
    image_ref: str | None = None


class Decision(Strict):
    allow: bool
    by: DecidedBy
    reason: str = ""
    ticket: str = ""
    yard_position: str = ""
    permit_id: str | None = None


class GateTransaction(Strict):
    """One truck through one lane, complete; `transaction_id` is the idempotency key."""

    transaction_id: str
    lane: str
    type: TransactionType | None = None
    outcome: Literal["passed", "denied", "trouble", "aborted", "cancelled", "released"]
    plate: CameraRead | None = None
    containers: list[ContainerRead] = Field(default_factory=list)
    reads: list[CameraRead] = Field(default_factory=list, description="every camera read, good or bad")
    weight: Weight | None = None
    decision: Decision | None = None
    offline: bool = False
    driver: DriverRef | None = None
    trouble_reason: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict, description="time spent per step")
    started_at: AwareDatetime
    ended_at: AwareDatetime


class LaneEvent(Strict):
    """Something visible happened at the lane: barrier, loops, lights, display, mode."""

    lane: str
    what: Literal["barrier", "loop", "light", "display", "mode", "safety", "state", "records"] = Field(
        description="records: `not_recorded` summarises lane events the outbox could not take (class full)")
    value: str
    transaction_id: str | None = None
    detail: str = ""


class VerifyRequest(Strict):
    """The lane asks the platform: may this truck pass? (req/gate_verify)"""

    transaction_id: str
    lane: str
    plate: str | None
    containers: list[str] = Field(default_factory=list)
    weight_kg: float | None = None
    type: TransactionType | None = None
    driver: DriverRef | None = Field(default=None, description="the driver's card, when the lane checks drivers "
                                     "([gate] driver_reader): the decision covers driver, truck and boxes")


class VerifyAnswer(Strict):
    """The platform's answer on rsp/gate_verify."""

    transaction_id: str
    allow: bool
    reason: str = ""
    type: TransactionType | None = None
    ticket: str = ""
    yard_position: str = ""


class Permit(Strict):
    """Pre-advice or appointment: lets the lane decide while the platform is unreachable."""

    permit_id: str
    plate: str
    containers: list[str] = Field(default_factory=list)
    type: TransactionType
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    yard_position: str = ""


class PermitsSync(Strict):
    """cmd/permits_sync: the full set of permits for this lane, versioned (replaces the old set)."""

    version: int = Field(ge=0, le=MAX_INT)
    permits: list[Permit]


class RemoteOpen(Strict):
    """cmd/barrier_open: staff release from the control room. Always expiring (see Command)."""

    lane: str
    reason: str = Field(min_length=1, max_length=500)
    operator: str = Field(min_length=1, max_length=64)


class LaneMode(Strict):
    """cmd/lane_mode"""

    lane: str
    mode: Literal["auto", "manual", "closed"]


class Reread(Strict):
    """cmd/reread: ask the lane to read plate and containers again."""

    lane: str


StaffActionKind = Literal["correct_container", "reread", "decide", "mode", "open", "close"]


class StaffAction(Strict):
    """A gate clerk's action at the booth console, carried out or refused (with the reason).
    Every one is also an entry of the lane's audit log (`audit_seq`)."""

    lane: str
    operator: str = Field(min_length=1, max_length=64, description="the clerk's badge")
    action: StaffActionKind
    outcome: Literal["done", "refused"]
    reason: str = Field(default="", max_length=500, description="the clerk's reason, or why it was refused")
    transaction_id: str | None = None
    detail: dict[str, str] = Field(default_factory=dict, description="e.g. position and number of a corrected box")
    audit_seq: int | None = Field(default=None, ge=1)


class GateReconcile(Strict):
    """After an offline decision: what the platform said about the same transaction, later.

    Sent once the platform's answer arrives (late, or when the lane asks again after the link
    returns). `agree` is false when the platform would have decided otherwise: staff follow up.
    """

    transaction_id: str
    lane: str
    offline: Decision
    platform: VerifyAnswer
    agree: bool
    detail: str = ""
