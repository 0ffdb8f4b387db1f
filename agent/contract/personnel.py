"""Restricted-area gate messages: people through turnstiles, their decisions and alarms.

Privacy is in the types: a person travels as `person_key` (HMAC-SHA256 of the credential under
the site key, 64 lower-case hex digits: it can be matched, not reversed) and `masked` (for
display: 110105********002X). No field takes a clear ID number: `masked` is checked to hide
the middle of any 18-character number. `name` is filled only when the lane's config asks.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator

from agent.contract.envelope import MAX_INT, Strict

PersonKey = str
_KEY = r"^[0-9a-f]{64}$"
Credential = Literal["id_card", "badge"]
PassOutcome = Literal["passed", "denied", "invalid_card", "timed_out", "unlock_failed", "read_failed", "aborted"]
AlarmKind = Literal["tailgating", "forced", "fire_alarm", "fire_alarm_cleared", "turnstile_lost"]
_CLEAR_ID = re.compile(r"\d{17}[\dXx]")


class _Masked(Strict):
    @field_validator("masked", check_fields=False)
    @classmethod
    def _no_clear_number(cls, value: str | None) -> str | None:
        if value and _CLEAR_ID.search(value):
            raise ValueError("masked must not hold a clear ID number")
        return value


class DriverRef(_Masked):
    """The truck driver as a truck lane may send them: key, mask, card end (gate_verify.driver)."""

    person_key: PersonKey = Field(pattern=_KEY)
    masked: str = Field(max_length=32)
    card_valid_until: str | None = Field(default=None, description="YYYY-MM-DD, or 'long_term'")


class PersonVerifyRequest(_Masked):
    """req/person_verify: may this person pass this lane into its area now?"""

    pass_id: str
    lane: str
    area: str
    credential: Credential
    person_key: PersonKey = Field(pattern=_KEY)
    masked: str = Field(max_length=32)
    name: str | None = Field(default=None, max_length=64, description="only when the lane's config sends names")
    card_valid_until: str | None = Field(default=None, description="YYYY-MM-DD, or 'long_term'; ID cards only")
    truck_transaction_id: str | None = Field(default=None, description="a driver checked at a truck lane")


class PersonVerifyAnswer(Strict):
    """rsp/person_verify"""

    pass_id: str
    allow: bool
    reason: str = Field(default="", max_length=200, description="e.g. 'blacklisted', 'no area pass'")


class PersonDecision(Strict):
    allow: bool
    by: Literal["platform", "offline", "edge"]
    reason: str = ""
    list_version: int | None = Field(default=None, description="the allow-list version an offline decision used")


class PersonPassage(_Masked):
    """One presentation at a turnstile, complete; `pass_id` is the idempotency key."""

    pass_id: str
    lane: str
    area: str
    credential: Credential | None = None
    person_key: PersonKey | None = Field(default=None, pattern=_KEY)
    masked: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    outcome: PassOutcome
    reason: str = ""
    decision: PersonDecision | None = None
    offline: bool = False
    passages: int = Field(ge=0, le=1, description="bodies counted for this unlock (one at most)")
    tailgaters: int = Field(default=0, ge=0, description="further bodies through on the same unlock")
    photo_ref: str | None = Field(default=None, description="only when the lane keeps photos; purged after retention")
    timings_ms: dict[str, float] = Field(default_factory=dict)
    started_at: AwareDatetime
    ended_at: AwareDatetime


class PersonAlarm(Strict):
    """Something staff must see at a turnstile: tailgating, a forced passage, the fire alarm."""

    lane: str
    area: str
    what: AlarmKind
    pass_id: str | None = None
    count: int = Field(default=1, ge=0)
    detail: str = Field(default="", max_length=500)


class AllowEntry(Strict):
    person_key: PersonKey = Field(pattern=_KEY)
    areas: list[str] = Field(min_length=1, description="areas this pass opens; '*' for all")
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class AllowListSync(Strict):
    """cmd/allow_list_sync: the whole offline allow-list for this lane, versioned (replaces the old)."""

    version: int = Field(ge=0, le=MAX_INT)
    entries: list[AllowEntry]
    blocked: list[PersonKey] = Field(default_factory=list, description="blacklisted keys: denied even with an entry")

    @field_validator("blocked")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not re.fullmatch(_KEY, key):
                raise ValueError("blocked holds person keys (64 lower-case hex digits)")
        return value


class PersonReconcile(Strict):
    """After an offline decision: what the platform said about the same pass, later."""

    pass_id: str
    lane: str
    offline: PersonDecision
    platform: PersonVerifyAnswer
    agree: bool
