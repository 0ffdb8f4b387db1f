"""The lane's vocabulary: its states, the events it reacts to and the actions it asks for.

Everything here is plain data. Events come from the devices (loops, cameras, scale), from the
platform (answers, timeouts), from staff (release, re-read, mode) and from the clock (Tick).
Actions are what the lane wants done; the runner (agent/gate/runner.py) does them. Nothing
here performs I/O or reads a clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from agent.contract.devices import CameraRead, ContainerPosition, Weight
from agent.contract.gate import (
    Decision,
    GateTransaction,
    LaneEvent,
    LaneInputs,
    LaneModeName,
    Permit,
    VerifyAnswer,
    VerifyRequest,
)
from agent.contract.personnel import DriverRef
from agent.lane_events import Advance, Tick


class State(enum.Enum):
    IDLE = "IDLE"
    ARRIVED = "ARRIVED"
    IDENTIFIED = "IDENTIFIED"
    WEIGHED = "WEIGHED"
    VERIFYING = "VERIFYING"
    DECIDED = "DECIDED"
    BARRIER_OPEN = "BARRIER_OPEN"
    PASSED = "PASSED"
    CLOSED = "CLOSED"
    TROUBLE = "TROUBLE"


# -- events ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Approach:
    occupied: bool


@dataclass(frozen=True)
class Safety:
    occupied: bool


@dataclass(frozen=True)
class Photocell:
    broken: bool


@dataclass(frozen=True)
class ExitLoop:
    occupied: bool


@dataclass(frozen=True)
class Interlock:
    """The barrier guard's word on moving the barrier at all: inputs known, no e-stop, the
    controller answering. Told by the runner when it changes; until then the lane assumes not
    (a staff release is refused as unsafe, the guard refuses the coil again)."""

    safe: bool


@dataclass(frozen=True)
class Read:
    read: CameraRead


@dataclass(frozen=True)
class Weighed:
    weight: Weight


@dataclass(frozen=True)
class Verdict:
    """The platform answered gate_verify in time. `request` is the request it answers: an
    answer to an earlier request of the same transaction (before a re-read) is stale."""

    answer: VerifyAnswer
    request: VerifyRequest | None = None


@dataclass(frozen=True)
class PlatformError:
    transaction_id: str
    reason: str
    request: VerifyRequest | None = None


@dataclass(frozen=True)
class PlatformTimeout:
    """The requester gave up (link down, no answer)."""

    transaction_id: str
    request: VerifyRequest | None = None


@dataclass(frozen=True)
class PermitLookup:
    """The runner's answer to ConsultPermits: the matching permit, or None."""

    transaction_id: str
    permit: Permit | None


@dataclass(frozen=True)
class StaffRelease:
    operator: str
    reason: str
    expires_at: float | None = None  # monotonic: the remote command's own expiry, if any
    in_trouble: bool = False  # the console's "allow" on a truck in TROUBLE: refused in any other state


@dataclass(frozen=True)
class OpenRefused:
    """The barrier did not (or no longer may) carry out the open: refused as unsafe or
    expired, or abandoned by the guard (e-stop, controller lost, expiry before the write).
    Only a new release (staff) opens it again."""

    reason: str


@dataclass(frozen=True)
class Reread:
    pass


@dataclass(frozen=True)
class SetMode:
    mode: LaneModeName


@dataclass(frozen=True)
class CorrectContainer:
    """Staff typed the box number the cameras misread (checked as ISO 6346 again here)."""

    operator: str
    position: ContainerPosition
    number: str


@dataclass(frozen=True)
class StaffDeny:
    """Staff refuse a truck in TROUBLE: it stays down; the transaction ends as denied."""

    operator: str
    reason: str


@dataclass(frozen=True)
class StaffClose:
    """Staff ask for the barrier to come down (only when the lane is clear under it)."""

    operator: str
    reason: str


@dataclass(frozen=True)
class DriverCard:
    """The driver's ID card, at a lane that checks drivers ([gate] driver_reader): the key and
    mask only (agent/personnel/identity.py); `problem` says why it may not be used."""

    driver: DriverRef
    problem: str = ""


Event = (
    Approach | Safety | Photocell | ExitLoop | Read | Weighed | Verdict | PlatformError | PlatformTimeout
    | PermitLookup | StaffRelease | OpenRefused | Reread | SetMode | Tick | Advance
    | CorrectContainer | StaffDeny | StaffClose | DriverCard | Interlock
)
INPUT_EVENTS = (Approach, Safety, Photocell, ExitLoop)
#: the answer a refused staff or platform command gets (agent.contract.envelope.ErrorBody codes)
RefusalCode = Literal["refused", "unsafe"]


# -- actions -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SendVerify:
    request: VerifyRequest
    timeout_s: float


@dataclass(frozen=True)
class ConsultPermits:
    transaction_id: str
    plate: str | None
    containers: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class OpenBarrier:
    transaction_id: str | None
    expires_at: float  # monotonic: an open not executed by then is refused


@dataclass(frozen=True)
class CloseBarrier:
    transaction_id: str | None


@dataclass(frozen=True)
class ShowDisplay:
    text: str


@dataclass(frozen=True)
class RecordTransaction:
    transaction: GateTransaction


@dataclass(frozen=True)
class RecordLaneEvent:
    event: LaneEvent


@dataclass(frozen=True)
class StartTimer:
    name: str
    deadline: float  # monotonic


@dataclass(frozen=True)
class Journal:
    """Persist the in-progress transaction (draft) so a restart can record it as aborted;
    None = the transaction is over (recorded), forget it."""

    transaction_id: str
    draft: dict[str, Any] | None


@dataclass(frozen=True)
class AwaitReconcile:
    """An offline decision was made: keep the question so the platform's answer is recorded."""

    request: VerifyRequest
    decision: Decision


@dataclass(frozen=True)
class TriggerReread:
    pass


@dataclass(frozen=True)
class Refuse:
    """The table refuses the staff or platform command this turn carries out (nothing of it was
    done); the runner hands it back to the command's caller, which answers it."""

    code: RefusalCode
    reason: str


Action = (
    SendVerify | ConsultPermits | OpenBarrier | CloseBarrier | ShowDisplay | RecordTransaction
    | RecordLaneEvent | StartTimer | Journal | AwaitReconcile | TriggerReread | Refuse
)


# -- I/O snapshots -> edge events --------------------------------------------------------

def input_edges(previous: LaneInputs | None, current: LaneInputs) -> list[Event]:
    """The lane events in a new I/O snapshot. The first snapshot reports every input (safe
    ones too), so the lane never keeps an assumed state. Safety first: a blocked safety loop
    or photocell must be known before anything that could lead to a close."""
    out: list[Event] = []
    if previous is None or previous.safety != current.safety:
        out.append(Safety(current.safety))
    if previous is None or previous.photocell_broken != current.photocell_broken:
        out.append(Photocell(current.photocell_broken))
    if previous is None or previous.exit != current.exit:
        out.append(ExitLoop(current.exit))
    if previous is None or previous.approach != current.approach:
        out.append(Approach(current.approach))
    return out
