"""Which outbox rows share an MQTT message: the link's packer, with no I/O.

The pump hands `plan` the rows it just took from the outbox (class by class in publish
order, each class in seq order) and gets back the messages to publish. Rows of one class and
one topic that are waiting together go out as one batch (agent.contract.batch), up to the
class's record and byte caps; everything else goes one row per message:
- a class whose batching is off (config `[link.batch.<class>] enabled = false`);
- command answers (`answers` class, `res/*`): a platform pairs each with its command;
- a row with a correlation id, reply topic or expiry (MQTT 5 properties to carry) or its own
  destination topic (a reply_to);
- a row bigger than the class's byte cap;
- a row the link asks to send alone (`alone`: its batch was refused or was on the wire when
  the connection dropped, see agent.link.link).
The byte cap of a batch is the class's `max_bytes`, and below the broker's Maximum Packet Size
when the broker told it (MQTT 5 CONNACK) less the packet's own bytes (`packet_bytes`).
A batch of one is sent as the plain envelope. Nothing waits to fill a batch: a lone record
goes at once, so batching adds no latency at gate rates.

Order: records of one topic keep seq order, within a batch and across messages (a batch sits
where its first record was). Records of different topics may overtake each other, as MQTT
allows anyway. This module must never split, alter or drop a row's payload.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config.model import BatchClass, ClassBatch
from agent.contract.batch import OVERHEAD_BYTES, pack
from agent.outbox import Row

if TYPE_CHECKING:
    from paho.mqtt.properties import Properties


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One MQTT message to publish: the rows it carries (by rid), where, and its bytes."""

    rids: tuple[int, ...]
    topic: str
    payload: bytes
    properties: Properties | None  # for a lone row with MQTT 5 properties to carry


def packet_bytes(topic: str, payload_bytes: int, properties: Properties | None) -> int:
    """At most the size of the MQTT 5 PUBLISH packet (QoS 1) that carries a payload of
    `payload_bytes`: fixed header (type byte and up to 4 length bytes), topic, packet id,
    properties (their length byte when there are none) and payload. What the broker's Maximum
    Packet Size counts."""
    props = len(properties.pack()) if properties is not None else 1
    return 1 + 4 + 2 + len(topic.encode()) + 2 + props + payload_bytes


class _Open:
    """A batch being filled: its rows and the bytes it has so far."""

    __slots__ = ("rows", "size")

    def __init__(self, row: Row):
        self.rows = [row]
        self.size = OVERHEAD_BYTES + len(row.payload)


class Packer:
    def __init__(self, policy: Mapping[BatchClass, ClassBatch]):
        #: class name -> (max records, max bytes), only for classes that batch
        self._caps: dict[str, tuple[int, int]] = {name: (c.max_records, c.max_bytes)
                                                  for name, c in policy.items() if c.enabled}

    def batches(self, priority: str) -> bool:
        return priority in self._caps

    def plan(self, rows: list[Row], topic_for: Callable[[Row], str],
             properties_for: Callable[[Row], Properties | None], *, max_packet: int | None = None,
             alone: Container[int] = ()) -> list[Outgoing]:
        """The messages for `rows`. `topic_for` is asked once per topic and per lone row,
        `properties_for` only for a row that carries a correlation id, reply topic or expiry
        (such a row always goes alone). `max_packet`: the broker's Maximum Packet Size, if it
        told one; no batch is built over it (a lone row over it is the caller's to set aside).
        `alone`: rows (by rid) to send one per message."""
        slots: list[Row | _Open] = []
        open_by_topic: dict[tuple[str, str, str | None], _Open] = {}
        byte_cap: dict[tuple[str, str, str | None], int] = {}
        caps_of = self._caps
        for row in rows:
            caps = caps_of.get(row.priority)
            key = (row.priority, row.kind, row.name)  # the topic of a row with no topic of its own
            if caps is not None and row.topic is None and not (row.correlation_id or row.reply_to or row.expires):
                cap = byte_cap.get(key)
                if cap is None:
                    cap = caps[1] if max_packet is None else \
                        min(caps[1], max_packet - packet_bytes(topic_for(row), 0, None))
                    byte_cap[key] = cap
                batchable, most = len(row.payload) + OVERHEAD_BYTES <= cap and row.rid not in alone, caps[0]
            else:
                batchable, cap, most = False, 0, 0
            if not batchable:
                slots.append(row)
                if row.topic is None:  # a later record of its topic must not join a batch sent before it
                    open_by_topic.pop(key, None)
                continue
            current = open_by_topic.get(key)
            if current is not None and len(current.rows) < most and current.size + 1 + len(row.payload) <= cap:
                current.rows.append(row)
                current.size += 1 + len(row.payload)
                continue
            current = _Open(row)
            open_by_topic[key] = current
            slots.append(current)
        out: list[Outgoing] = []
        for slot in slots:
            if not isinstance(slot, _Open):
                out.append(Outgoing((slot.rid,), topic_for(slot), slot.payload, properties_for(slot)))
            elif len(slot.rows) == 1:
                row = slot.rows[0]
                out.append(Outgoing((row.rid,), topic_for(row), row.payload, None))
            else:
                out.append(Outgoing(tuple(r.rid for r in slot.rows), topic_for(slot.rows[0]),
                                    pack([r.payload for r in slot.rows]), None))
        return out
