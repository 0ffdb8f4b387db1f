"""Gate lane messages: transactions, lane events, verification, permits, operator commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import AwareDatetime, Field

from agent.contract.devices import CameraRead, ContainerPosition, Weight
from agent.contract.envelope import MAX_INT, Strict
from agent.contract.personnel import DriverRef


@dataclass(frozen=True, slots=True)
class LaneInputs:
    """One reading of a gate lane's inputs, already decoded (active-low wiring undone): what
    the gate I/O driver (agent/devices/gate_io.py) emits and the gate station routes to the
    lane by this type. Not published: the lane's loop/barrier lane events say what changed."""

    approach: bool
    safety: bool
    exit: bool
    open_limit: bool
    closed_limit: bool
    photocell_broken: bool
    estop: bool
    stale: bool = False  # True when made up after a failed read (fail-safe values)

    @property
    def at_rest(self) -> bool:
        """Barrier down on its limit, every loop and the beam clear, e-stop healthy, read fresh:
        nothing can move and nothing is waiting to."""
        return (self.closed_limit and not self.open_limit and not self.stale and not self.estop
                and not (self.approach or self.safety or self.exit or self.photocell_broken))

    def unsafe_to_close(self) -> str:
        if self.stale:
            return "inputs unknown (module not answering)"
        if self.estop:
            return "e-stop active"
        if self.safety:
            return "safety loop occupied"
        if self.photocell_broken:
            return "photocell broken"
        return ""


TransactionType = Literal["DI", "RE", "DM", "RM", "DC", "RC"]
GateOutcome = Literal["passed", "denied", "trouble", "aborted", "cancelled", "released"]
LaneModeName = Literal["auto", "manual", "closed"]
LaneEventKind = Literal["barrier", "loop", "light", "display", "mode", "safety", "state", "records"]
DecidedBy = Literal["platform", "offline", "staff"]


class ContainerRead(Strict):
    number: str
    position: ContainerPosition = "unknown"
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
    outcome: GateOutcome
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
    what: LaneEventKind = Field(
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
    mode: LaneModeName


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
