"""The personnel lane's vocabulary: states, events in, actions out. Plain data, no I/O.

Events come from the readers (an identity, or a failed read), the turnstile (its input
snapshot), the platform (answers, timeouts), the allow-list (a lookup's result) and the clock
(Tick). Actions are what the lane wants done; the runner (agent/personnel/runner.py) does them.
`Identity` holds no clear ID number: the runner builds it from the card (privacy.py) before
the lane sees anything.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from agent.contract.personnel import (
    Credential,
    PersonAlarm,
    PersonDecision,
    PersonPassage,
    PersonVerifyAnswer,
    PersonVerifyRequest,
)
from agent.lane_events import Advance, Tick


class State(enum.Enum):
    IDLE = "IDLE"
    VERIFYING = "VERIFYING"
    CONSULTING = "CONSULTING"
    DECIDED = "DECIDED"
    UNLOCKED = "UNLOCKED"
    PASSED = "PASSED"
    FREE = "FREE"


@dataclass(frozen=True)
class Identity:
    """Who was presented, as the edge may keep it: hashed key, masked form, card dates."""

    credential: Credential
    person_key: str
    masked: str
    name: str | None = None  # only when the config sends names
    number_valid: bool = True  # GB 11643 check (badges: True)
    problem: str = ""  # why the number is not valid, for the record
    valid_from: date | None = None
    valid_until: date | None = None  # None: long-term card, or a badge
    long_term: bool = False
    photo: bytes | None = None  # kept only when the config stores photos


# -- events --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Presented:
    identity: Identity


@dataclass(frozen=True)
class ReadFailed:
    reason: str


@dataclass(frozen=True)
class Turnstile:
    """One snapshot of the turnstile (agent/devices/turnstile.py's TurnstileInputs)."""

    locked: bool
    tailgate: bool
    fire_alarm: bool
    passages: int
    stale: bool = False


@dataclass(frozen=True)
class Verdict:
    answer: PersonVerifyAnswer


@dataclass(frozen=True)
class PlatformTimeout:
    pass_id: str


@dataclass(frozen=True)
class ListLookup:
    pass_id: str
    decision: PersonDecision


@dataclass(frozen=True)
class UnlockFailed:
    pass_id: str
    reason: str


Event = Presented | ReadFailed | Turnstile | Verdict | PlatformTimeout | ListLookup | UnlockFailed | Tick | Advance


# -- actions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SendVerify:
    request: PersonVerifyRequest
    timeout_s: float


@dataclass(frozen=True)
class ConsultList:
    pass_id: str
    person_key: str


@dataclass(frozen=True)
class Unlock:
    pass_id: str
    expires_at: float  # monotonic: the runner refuses to write after this


@dataclass(frozen=True)
class Relock:
    pass_id: str | None


@dataclass(frozen=True)
class Show:
    text: str


@dataclass(frozen=True)
class Record:
    passage: PersonPassage
    photo: bytes | None = None


@dataclass(frozen=True)
class Alarm:
    alarm: PersonAlarm


@dataclass(frozen=True)
class AwaitReconcile:
    request: PersonVerifyRequest
    decision: PersonDecision


Action = SendVerify | ConsultList | Unlock | Relock | Show | Record | Alarm | AwaitReconcile
