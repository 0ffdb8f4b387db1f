"""Batches: several records of one topic in one MQTT message.

A node's records (`evt/*`) may travel one per message, as an `Envelope`, or several per
message, as a batch: a JSON object with the single key `batch` whose value is a list of
envelopes, each exactly the envelope it would have been alone (its own id, seq, ts, type):

    {"batch": [{"id": "01J...", "node": "lane-1", "seq": 42, ...}, {"id": ..., "seq": 43, ...}]}

How to tell: a payload whose top-level object has the key `batch` is a batch; an envelope
never has that key (unknown fields are refused). Records in a batch are in seq order; every
record of a batch was published to the batch's topic. A batch is acknowledged (PUBACK) as one
message, and a node may send a record again in another batch or alone after a reconnect: drop
duplicates by each record's `id`, as for single messages. Only records are batched: the
retained state, requests (`req/*`) and command answers (`res/*`) are always single messages.

`pack` builds the wire form from stored payloads without parsing them again; `records`
unpacks either form for a consumer. This module must never reorder or alter a record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import Field

from agent.contract.envelope import Envelope, Strict

#: the most records one batch may hold (the schema's limit; the config's caps stay below it)
MAX_BATCH_RECORDS = 1000
#: the largest batch payload a node may be configured to build: well under the 1 MiB
#: Maximum Packet Size of the broker Port Edge generates (agent.contract.broker). Another
#: broker may take less: over MQTT 5 its CONNACK tells the limit and the link builds no batch
#: over it (a lone record over it is parked); over MQTT 3.1.1 it cannot be told, so the
#: config's max_bytes must sit below it, and the rows of a batch on the wire when the
#: connection dropped go one per message after the reconnect (agent.link.link)
MAX_BATCH_BYTES = 256 * 1024
#: what the batch adds around its records: `{"batch":[` + `]}` and a comma between records
_OPEN, _CLOSE = b'{"batch":[', b"]}"
OVERHEAD_BYTES = len(_OPEN) + len(_CLOSE)

B = TypeVar("B")


class Batch(Strict, Generic[B]):
    """Several records of one topic in one MQTT message, in seq order; each keeps its own id
    and seq. Told from a single envelope by its only key, `batch`."""

    batch: list[Envelope[B]] = Field(min_length=1, max_length=MAX_BATCH_RECORDS,
                                     description="the records, each the envelope it would be alone")


def pack(payloads: Sequence[bytes]) -> bytes:
    """The batch message for stored record payloads (each a serialised Envelope), byte for
    byte as stored: no record is parsed or encoded again."""
    return _OPEN + b",".join(payloads) + _CLOSE


def packed_size(sizes_total: int, count: int) -> int:
    """The size of `pack` of `count` payloads of `sizes_total` bytes together."""
    return sizes_total + OVERHEAD_BYTES + max(0, count - 1)


def is_batch(message: Any) -> bool:
    return isinstance(message, dict) and "batch" in message


def records(message: Any) -> list[Any]:
    """The records a parsed `evt/*` payload carries: the list of a batch, or the envelope alone.
    A malformed batch (`batch` not a list) yields nothing; validate against the contract first
    where that matters."""
    if is_batch(message):
        items = message["batch"]
        return list(items) if isinstance(items, list) else []
    return [message]
