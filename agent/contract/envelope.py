"""The envelope every Port Edge message travels in.

Everything the agent and the platform need is in the JSON payload, so MQTT 3.1.1 brokers work;
with MQTT 5 the link mirrors `correlation_id`, `reply_to` and `expires_at` into the publish
properties. `id` is a ULID (sortable, unique): the platform drops duplicates by it. `seq` is
per node, assigned when the outbox commits the record, and survives restarts, so gaps show.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

SCHEMA_VERSION = 1
#: the largest integer a command may carry: what SQLite (and most platforms) store as a
#: signed 64-bit integer; a bigger one is refused as invalid_schema, never stored or run
MAX_INT = 2**63 - 1
#: a command or response payload larger than this is refused (bytes of JSON)
MAX_COMMAND_BYTES = 256 * 1024
#: what an Envelope's fields may hold (shared by the model and the hot path's quick check)
ID_PATTERN = r"[0-9A-HJKMNP-TV-Z]{26}"
NAME_MAX = 64  # node, type, correlation_id
REPLY_TO_MAX = 256

B = TypeVar("B")


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: two base32 characters per 10 bits: a ULID's 48-bit time is exactly its first 10 characters
#: and its 80 random bits the last 16. The time part is encoded once per millisecond, and the
#: next id in the same millisecond (random part + 1) changes only its last two characters
#: unless a carry crosses them: a slice and a lookup (6.6 µs an id once, ~1 µs now, measured)
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_TIME_SHIFTS = range(40, -1, -10)
_RANDOM_SHIFTS = range(70, -1, -10)
# Ids need uniqueness, not secrecy: a PRNG seeded once from the OS avoids a getrandom()
# syscall per message, which on the event-loop thread releases the GIL to the outbox writer
# and the MQTT thread and was measured as the largest single cost of a put under load.
_id_rng = random.Random(os.urandom(32))
_id_lock = threading.Lock()
_id_last: list = [0, 0, ""]  # millisecond, random part and text of the last id made here
os.register_at_fork(after_in_child=lambda: _id_rng.seed(os.urandom(32)))


def new_id() -> str:
    """A new message id: a ULID (48-bit millisecond time + 80 random bits) in its
    26-character Crockford base32 form. Monotonic within this process: a second id in the
    same millisecond (or after the clock stepped back) takes the last random part plus one,
    so ids sort in creation order."""
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_rand, last = _id_last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
            if rand & 1023:  # no carry into the upper characters: only the last two change
                text = last[:24] + _PAIRS[rand & 1023]
                _id_last[1], _id_last[2] = rand, text
                return text
            if rand >= 1 << 80:  # 2^80 ids in one millisecond: borrow the next one
                ms, rand = ms + 1, _id_rng.getrandbits(79)
        else:
            rand = _id_rng.getrandbits(79)  # headroom so +1 steps never overflow in practice
        prefix = last[:10] if ms == last_ms else "".join([_PAIRS[(ms >> shift) & 1023] for shift in _TIME_SHIFTS])
        text = prefix + "".join([_PAIRS[(rand >> shift) & 1023] for shift in _RANDOM_SHIFTS])
        _id_last[0], _id_last[1], _id_last[2] = ms, rand, text
    return text


def utc_now() -> datetime:
    return datetime.now(UTC)


class Strict(BaseModel):
    """Base for every wire model: unknown fields are errors, values are checked on assignment.
    Each model's validator and serializer are built on its first use (`defer_build`), not at
    import: a gate lane never builds the PDA's or the turnstile's models; the schema and
    AsyncAPI generators build every one they are asked for."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, defer_build=True)


class Envelope(Strict, Generic[B]):
    """A message from a node: event, request, state or command response."""

    id: str = Field(default_factory=new_id, min_length=26, max_length=26, pattern=f"^{ID_PATTERN}$")
    node: str = Field(min_length=1, max_length=NAME_MAX)
    seq: int = Field(default=0, ge=0, description="per-node sequence of records (evt), assigned when the node "
                     "commits them, from 1, surviving restarts; 0 on what is not a record: the retained "
                     "state and requests")
    ts: AwareDatetime = Field(default_factory=utc_now)
    type: str = Field(min_length=1, max_length=NAME_MAX)
    v: int = Field(default=SCHEMA_VERSION, ge=1)
    body: B
    correlation_id: str | None = Field(default=None, max_length=NAME_MAX, description="set on requests and responses")
    reply_to: str | None = Field(default=None, max_length=REPLY_TO_MAX, description="set on requests: where the answer goes")

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


# -- the hot path: an Envelope's wire form without a pydantic round trip -------------------
#
# Every record a node stores goes through here (`Outbox.aput`). Building the model, dumping it
# and copying it with its commit-time seq cost ~35 µs a record, measured; these functions do
# the same in ~5: the values are checked by the model's own rules (the constants above), laid
# out in the model's field order, and serialised by pydantic-core's serializer for an `Any`
# field - the very serializer `Envelope.body` (an unbound type variable) and its datetime use,
# so the bytes are the model's bytes. tests/test_envelope_wire.py holds the two forms equal
# for every message in the catalog and validates them against the published JSON Schema.

_ANY = TypeAdapter(Any).serializer
_ID = re.compile(ID_PATTERN)


def envelope_fields(node: str, type_: str, body: BaseModel | dict[str, Any], ts: datetime, *,
                    id: str | None = None, correlation_id: str | None = None,
                    reply_to: str | None = None) -> dict[str, Any]:
    """An Envelope's field values (seq 0), as the model would hold them after validation.
    Values the quick check cannot vouch for (a naive ts, an odd id, a length out of bounds, a
    body that is neither a model nor a dict) go through the model itself, which refuses them
    with its own ValidationError, or converts them."""
    if (type(node) is str and type(type_) is str and 0 < len(node) <= NAME_MAX
            and 0 < len(type_) <= NAME_MAX and isinstance(body, (BaseModel, dict))
            and (correlation_id is None or (type(correlation_id) is str and len(correlation_id) <= NAME_MAX))
            and (reply_to is None or (type(reply_to) is str and len(reply_to) <= REPLY_TO_MAX))
            and (id is None or (type(id) is str and _ID.fullmatch(id) is not None))
            and isinstance(ts, datetime) and ts.utcoffset() is not None):
        return {"id": id or new_id(), "node": node, "seq": 0, "ts": ts if ts.tzinfo is UTC else ts.astimezone(UTC),
                "type": type_, "v": SCHEMA_VERSION, "body": body, "correlation_id": correlation_id,
                "reply_to": reply_to}
    values: dict[str, Any] = {"node": node, "type": type_, "body": body, "ts": ts, "correlation_id": correlation_id,
                              "reply_to": reply_to}
    if id is not None:
        values["id"] = id
    return dict(Envelope(**values))


def wire_form(fields: dict[str, Any]) -> bytes:
    """The wire form of an Envelope's fields (from `envelope_fields`): `dump(Envelope(...))`'s bytes."""
    return _ANY.to_json(fields)


def trusted_envelope(fields: dict[str, Any]) -> Envelope[Any]:
    """An Envelope holding `fields`, already checked by `envelope_fields`, without validating
    them again: what pydantic's `model_construct` does, minus its per-field default lookups
    (3 µs instead of 12, measured)."""
    envelope = Envelope.__new__(Envelope)
    _set = object.__setattr__
    _set(envelope, "__dict__", fields)
    _set(envelope, "__pydantic_fields_set__", set(fields))
    _set(envelope, "__pydantic_extra__", None)
    _set(envelope, "__pydantic_private__", None)
    return envelope


class Command(Strict, Generic[B]):
    """A command from the platform to a node. Refused unless fresh, valid and addressed here.
    `id` is required: it is what makes a re-delivered command answered again, never run twice."""

    id: str = Field(min_length=1, max_length=64, description="unique per command: a re-delivery with the same id"
                    " gets the stored answer and is not run again")
    node: str = Field(min_length=1, max_length=64, description="the node the command is for")
    ts: AwareDatetime = Field(default_factory=utc_now)
    type: str = Field(min_length=1, max_length=64)
    v: int = Field(default=SCHEMA_VERSION, ge=1, le=MAX_INT)
    body: B
    reply_to: str = Field(min_length=1, max_length=256)
    correlation_id: str = Field(min_length=1, max_length=64)
    expires_at: AwareDatetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class ErrorBody(Strict):
    """Why a command or request was refused."""

    code: Literal[
        "invalid_json",
        "invalid_schema",
        "oversize",
        "expired",
        "wrong_node",
        "unknown_command",
        "refused",
        "unsafe",
        "internal",
        "busy",
    ]
    reason: str = Field(max_length=2000)


class Response(Strict, Generic[B]):
    """A node's answer to a command, or the platform's answer to a node's request."""

    id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    node: str = Field(min_length=1, max_length=64)
    seq: int = Field(default=0, ge=0, description="a node's answer is a record: its seq (shared with its events); "
                     "a re-sent answer keeps it. 0 on the platform's answers")
    ts: AwareDatetime = Field(default_factory=utc_now)
    type: str = Field(min_length=1, max_length=64)
    v: int = Field(default=SCHEMA_VERSION, ge=1)
    correlation_id: str = Field(min_length=1, max_length=64)
    ok: bool
    body: B | None = None
    error: ErrorBody | None = None


class Refusal(Response[None]):
    """A node's answer to a command it does not have: always refused (`unknown_command`, or
    `invalid_json`/`oversize` when the payload could not even be read). It goes where every
    answer goes: the command's `reply_to` when that is inside the node's own `res/`, else
    `res/{the command's name}`."""

    ok: Literal[False]
    error: ErrorBody = Field()  # required here (Field() keeps pyright from reading the parent default)


def dump(model: BaseModel) -> bytes:
    """The wire form of a model: compact JSON, UTF-8."""
    return model.model_dump_json(exclude_none=False).encode()


def peek_fields(raw: Any) -> dict[str, Any]:
    """Best-effort id/correlation_id/reply_to from a payload that failed validation,
    so even a malformed command gets its error answered on its reply topic."""
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key in ("id", "correlation_id", "reply_to", "type"):
        value = raw.get(key)
        if isinstance(value, str) and 0 < len(value) <= 256:
            out[key] = value
    return out


M = TypeVar("M", bound=BaseModel)


def body_as(command: Command[Any], model: type[M]) -> M:
    """A command's body as `model`, however the link parsed it; a body that does not fit is
    the platform's error (`InvalidCommandError` with code invalid_schema)."""
    from agent.errors import InvalidCommandError

    body = command.body
    if isinstance(body, model):
        return body
    try:
        return model.model_validate(body.model_dump() if isinstance(body, BaseModel) else body)
    except ValidationError as err:
        raise InvalidCommandError("invalid_schema", str(err)[:1000]) from None
