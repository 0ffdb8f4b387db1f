"""The outbox: every message a node sends waits here, committed, until the broker PUBACKs it.

`put` returns only once the row is committed (group commit, see writer.py), with the
per-node `seq` it was given; `put_many` stores a burst in one transaction (all or none) for
one commit wait. On the hot path the envelope is not built as a pydantic model: its fields
are checked by the model's rules and serialised by pydantic-core directly
(contract.envelope.envelope_fields; tests hold the bytes equal to the model's). The link reads `next_batch` in (priority, seq) order, `ack`s
what the broker acknowledged and `release`s what was in flight when the connection dropped.

Never: report a message stored before its commit; delete a row that was not acked (telemetry
over its cap or age excepted, and counted); block the asyncio loop on a commit (`aput`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent import metrics
from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.model import ClassCap, _default_caps
from agent.contract.catalog import BY_TYPE
from agent.contract.envelope import (
    Envelope,
    Response,
    dump,
    envelope_fields,
    trusted_envelope,
    wire_form,
)
from agent.contract.topics import Kind, Topic
from agent.errors import StorageFullError
from agent.outbox.schema import PRIORITIES, PRIORITY_INDEX, PUBLISH_ORDER, connect, open_db
from agent.outbox.waiting import Departure
from agent.outbox.writer import Cap, OnLoops, PutRequest, Writer

log = logging.getLogger(__name__)

DEFAULT_PUT_TIMEOUT_S = 30.0
#: the most records one put_many may carry (one transaction; its caller's memory)
MAX_PUT_MANY = 1000


@lru_cache(maxsize=1024)
def _topic(site: str, node: str, kind: str, name: str | None) -> str:
    return str(Topic(site, node, Kind(kind), name))  # validated once per distinct topic


@lru_cache(maxsize=64)
def _kind(kind: Kind | str) -> str:
    return str(Kind(kind))


def _raise_first_error(reqs: list[PutRequest]) -> None:
    for req in reqs:
        if req.error is not None:
            raise req.error


@dataclass(frozen=True, slots=True)
class Row:
    """One stored message as the link publishes it."""

    rid: int
    msg_id: str
    seq: int
    priority: str
    kind: str
    name: str | None
    topic: str | None  # set when the destination is not the node's own subtree (a reply_to)
    type: str
    payload: bytes
    created: float
    expires: float | None
    correlation_id: str | None
    reply_to: str | None

    def topic_for(self, site: str, node: str) -> str:
        return self.topic or _topic(site, node, self.kind, self.name)


def at_cap_reason(name: str, rows: int) -> str:
    """The degraded reason for a class at its cap (health and `portedge status` say it alike)."""
    return f"outbox {name} class at its cap ({rows} rows): puts block"


def moved_aside_reason(moved_to: str) -> str:
    return f"outbox database was corrupt, moved aside to {moved_to}"


@dataclass
class OutboxStats:
    rows: dict[str, int]
    bytes: dict[str, int]
    oldest_age_s: dict[str, float | None]
    dropped: dict[str, int]
    waiting: dict[str, int]
    at_cap: list[str]
    inflight: int
    seq: int
    disk_full: bool
    errors: dict[str, int] = field(default_factory=dict)
    corrupt_moved_to: str | None = None
    storage_fault: str | None = None  # agent.storage's words: "storage full: ...", "database file removed: ..."

    @property
    def depth(self) -> int:
        return sum(self.rows.values())

    def degraded(self) -> list[str]:
        reasons = []
        if self.disk_full:
            reasons.append(f"outbox {self.storage_fault or 'storage full or failing'}: puts are waiting")
        elif self.storage_fault:
            reasons.append(f"outbox {self.storage_fault}")
        for name in self.at_cap:
            reasons.append(at_cap_reason(name, self.rows[name]))
        for name, count in self.waiting.items():
            if count and name not in self.at_cap and not self.disk_full:
                reasons.append(f"outbox {name}: {count} puts waiting")
        if self.corrupt_moved_to:
            reasons.append(moved_aside_reason(self.corrupt_moved_to))
        return reasons


class Outbox:
    def __init__(self, path: str | Path, node_id: str, *, caps: dict[str, ClassCap] | None = None,
                 synchronous: str = "FULL", group_commit_ms: float = 2.0, clock: Clock = SYSTEM_CLOCK,
                 put_timeout_s: float = DEFAULT_PUT_TIMEOUT_S):
        self.path = Path(path)
        self.node_id = node_id
        self._clock = clock
        self._put_timeout = put_timeout_s
        merged: dict[str, ClassCap] = {**_default_caps(), **(caps or {})}
        self.caps = merged
        conn, moved = open_db(self.path, synchronous, clock.now())  # StorageError when the file may not be used
        self.corrupt_moved_to = str(moved) if moved else None
        self._synchronous = synchronous
        lost = conn.execute("SELECT value FROM meta WHERE key = 'answers_lost_at'").fetchone()
        #: since when stored command answers are missing (a damaged file moved aside), if ever
        self.answers_lost_at = datetime.fromisoformat(lost[0]) if lost else None
        self._reader = connect(self.path, synchronous, check_same_thread=False)
        self._read_lock = threading.Lock()
        self._lock = threading.Lock()
        self._hidden: dict[int, tuple[int, int]] = {}  # rid -> (prio, seq): in flight or acked
        self._cursor = [0] * len(PRIORITIES)
        self._listeners: list[tuple[Callable[[], None], asyncio.AbstractEventLoop | None]] = []
        self._writer = Writer(conn, [Cap(c.max_rows, c.max_bytes, c.max_age_s) for c in (merged[p] for p in PRIORITIES)],
                              clock, group_commit_ms / 1000.0, self._deleted, self._committed, self._resent,
                              path=self.path, synchronous=synchronous, on_restored=self._reopen_reader)
        self._departing: dict[tuple[asyncio.AbstractEventLoop, float], Departure] = {}
        self._closed = False
        self.parked = 0  # rows set aside as refused by the broker since start (see park())

    def _reopen_reader(self) -> None:
        """On the writer thread, after the file was rebuilt under a new inode."""
        new = connect(self.path, self._synchronous, check_same_thread=False)
        with self._read_lock:
            old, self._reader = self._reader, new
        old.close()

    # -- putting ----------------------------------------------------------------------------

    def _request(self, type: str, body: BaseModel | dict, priority: str, kind: Kind | str, name: str | None,
                 correlation_id: str | None, reply_to: str | None, msg_id: str | None,
                 expires_at: datetime | None) -> tuple[PutRequest, dict[str, Any]]:
        """A request to store one record, and its envelope's fields (see contract.envelope)."""
        if priority not in PRIORITY_INDEX:
            raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
        spec = BY_TYPE.get(type)
        if isinstance(body, BaseModel) and spec is not None and not isinstance(body, spec.body):
            # a record goes out under its catalog type only as that type's model (the contract)
            raise TypeError(f"a {type!r} record carries {spec.body.__name__}, not {body.__class__.__name__}")
        fields = envelope_fields(self.node_id, type, body, self._clock.now(), id=msg_id,
                                 correlation_id=correlation_id, reply_to=reply_to)
        req = PutRequest(prio=PRIORITY_INDEX[priority], payload=wire_form(fields), msg_id=fields["id"],
                         kind=_kind(kind), name=name or type, topic=None, type=type, created=fields["ts"].timestamp(),
                         expires=expires_at.timestamp() if expires_at else None,
                         correlation_id=correlation_id, reply_to=reply_to, reuse_id=msg_id is not None)
        return req, fields

    @staticmethod
    def _stored(req: PutRequest, fields: dict[str, Any]) -> Envelope:
        """The envelope as committed: its seq (and, for a re-put id, the stored one's seq)."""
        return trusted_envelope({**fields, "seq": req.seq})

    def _burst(self, records: list[tuple[str, BaseModel | dict]], priority: str,
               kind: Kind | str) -> tuple[list[PutRequest], list[dict[str, Any]]]:
        if not 0 < len(records) <= MAX_PUT_MANY:
            raise ValueError(f"put_many takes 1 to {MAX_PUT_MANY} records, not {len(records)}")
        made = [self._request(type, body, priority, kind, None, None, None, None, None) for type, body in records]
        reqs = [req for req, _ in made]
        cap, size = self.caps[priority], sum(len(req.payload) for req in reqs)
        if priority != "telemetry" and (len(reqs) > cap.max_rows or size > cap.max_bytes):
            raise ValueError(f"a burst of {len(reqs)} records ({size} bytes) can never fit the {priority} class's cap"
                             f" ({cap.max_rows} rows / {cap.max_bytes} bytes)")
        reqs[0].together, reqs[0].together_bytes = len(reqs), size
        return reqs, [fields for _, fields in made]

    def put(self, type: str, body: BaseModel | dict, priority: str = "transactional", *, kind: Kind | str = Kind.EVT,
            name: str | None = None, correlation_id: str | None = None, reply_to: str | None = None,
            msg_id: str | None = None, timeout: float | None = None, expires_at: datetime | None = None) -> Envelope:
        """Store one message; returns once committed, with its seq. Thread-safe.
        Raises StorageFullError when its class stays at its cap (or the disk stays full) for
        `timeout` seconds (default `put_timeout_s`)."""
        req, fields = self._request(type, body, priority, kind, name, correlation_id, reply_to, msg_id, expires_at)
        self._put_sync([req], timeout)
        return self._stored(req, fields)

    def put_many(self, records: list[tuple[str, BaseModel | dict]], priority: str = "transactional", *,
                 kind: Kind | str = Kind.EVT, timeout: float | None = None) -> list[Envelope]:
        """Store a burst of (type, body) records in ONE transaction: returns once all are
        committed, each with its own id and seq, in order. All or none: StorageFullError (none
        stored) when they do not fit their class for `timeout` seconds. Thread-safe."""
        reqs, fields = self._burst(records, priority, kind)
        self._put_sync(reqs, timeout)
        return [self._stored(req, f) for req, f in zip(reqs, fields, strict=True)]

    async def aput(self, type: str, body: BaseModel | dict, priority: str = "transactional", *,
                   kind: Kind | str = Kind.EVT, name: str | None = None, correlation_id: str | None = None,
                   reply_to: str | None = None, msg_id: str | None = None, timeout: float | None = None,
                   expires_at: datetime | None = None) -> Envelope:
        """`put` for asyncio: awaits the commit without blocking the loop."""
        req, fields = self._request(type, body, priority, kind, name, correlation_id, reply_to, msg_id, expires_at)
        await self._put_async([req], timeout)
        return self._stored(req, fields)

    async def aput_many(self, records: list[tuple[str, BaseModel | dict]], priority: str = "transactional", *,
                        kind: Kind | str = Kind.EVT, timeout: float | None = None) -> list[Envelope]:
        """`put_many` for asyncio: one commit wait for the whole burst, the loop never blocked."""
        reqs, fields = self._burst(records, priority, kind)
        await self._put_async(reqs, timeout)
        return [self._stored(req, f) for req, f in zip(reqs, fields, strict=True)]

    async def record(self, type: str, body: BaseModel, priority: str = "transactional") -> Envelope:
        """agent.interfaces.Recorder."""
        return await self.aput(type, body, priority)

    async def put_response(self, response: Response, topic: str, *, answers: str | None = None,
                           timeout: float | None = None) -> Response:
        """Store a command response (answers class) for `topic`. With `answers` (the command id)
        the answer is remembered in the same transaction, for duplicate commands."""
        if response.seq:
            response = response.model_copy(update={"seq": 0})  # the outbox assigns seq at commit
        req = PutRequest(prio=PRIORITY_INDEX["answers"], payload=dump(response), msg_id=response.id, kind=str(Kind.RES),
                         name=response.type, topic=topic, type=response.type, created=response.ts.timestamp(),
                         expires=None, correlation_id=response.correlation_id, reply_to=None, reuse_id=True,
                         answer_key=answers)
        await self._put_async([req], timeout)
        metrics.COMMAND_ANSWERS.labels(response.type, "ok" if response.ok else getattr(response.error, "code", "error")).inc()
        return response.model_copy(update={"seq": req.seq})

    async def put_again(self, topic: str, payload: bytes, *, timeout: float | None = None) -> Response:
        """Queue a stored answer (from `answer_for`) once more, byte for byte: the same id, the
        same seq, the same body, so a platform that drops duplicates by id sees no new record
        and no seq gap. While the first copy still waits here, nothing new is stored."""
        answer = Response.model_validate_json(payload)
        if answer.seq < 1:
            raise ValueError("a stored answer always carries the seq it was sent with")
        req = PutRequest(prio=PRIORITY_INDEX["answers"], payload=bytes(payload), msg_id=answer.id, kind=str(Kind.RES),
                         name=answer.type, topic=topic, type=answer.type, created=self._clock.now().timestamp(),
                         expires=None, correlation_id=answer.correlation_id, reply_to=None, reuse_id=True,
                         fixed_seq=answer.seq)
        await self._put_async([req], timeout)
        return answer

    def answer_for(self, cmd_id: str) -> tuple[str, bytes] | None:
        """The (topic, payload) already sent for a command id, if any."""
        with self._read_lock:
            row = self._reader.execute("SELECT topic, payload FROM answers WHERE cmd_id = ?", (cmd_id,)).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def _put_sync(self, reqs: list[PutRequest], timeout: float | None) -> None:
        done = threading.Event()
        left = [len(reqs)]

        def answered(_req: PutRequest) -> None:  # on the writer thread, which answers one at a time
            left[0] -= 1
            if left[0] == 0:
                done.set()

        for req in reqs:
            req.on_done = answered
        self._writer.submit(reqs)
        limit = self._put_timeout if timeout is None else timeout
        if not done.wait(limit):
            while not done.wait(0.05):
                if self._writer.cancel(reqs):
                    raise StorageFullError(self._full_reason(reqs[0]))
        _raise_first_error(reqs)

    async def _put_async(self, reqs: list[PutRequest], timeout: float | None) -> None:
        # The hot path of every record: the puts of one loop turn leave together (one submit,
        # one timer; agent.outbox.waiting), each awaits its own future, resolved in a batch
        # per commit. No asyncio.timeout/shield per put: that cost 4x a plain await, measured.
        loop = asyncio.get_running_loop()
        limit = self._put_timeout if timeout is None else timeout
        key = (loop, limit)
        departure = self._departing.get(key)
        if departure is None:
            departure = self._departing[key] = Departure(loop, limit, self._writer, self._full_reason)
            loop.call_soon(self._leave, key)
        waiter = departure.add(reqs)
        try:
            await waiter.future
        except asyncio.CancelledError:
            if self._writer.cancel(reqs):  # else it is committing: the row is stored, harmless
                waiter.settle()
            raise
        _raise_first_error(reqs)

    def _leave(self, key: tuple[asyncio.AbstractEventLoop, float]) -> None:
        self._departing.pop(key).leave()

    def _full_reason(self, req: PutRequest) -> str:
        """Why a put was given up on, in the operator's words."""
        name = PRIORITIES[req.prio]
        if self._writer.disk_full:
            return f"outbox {self._writer.reason()}; {name} message {req.type!r} not stored"
        cap = self.caps[name]
        return (f"outbox {name} class is at its cap ({cap.max_rows} rows / {cap.max_bytes} bytes);"
                f" {req.type!r} not stored")

    # -- the link's side --------------------------------------------------------------------

    def next_batch(self, limit: int) -> list[Row]:
        """Up to `limit` rows in (class, seq) order (`PUBLISH_ORDER`) that are not already in flight."""
        out: list[Row] = []
        # the writer's row counts are replaced after each COMMIT and before it wakes the link:
        # a class counted empty has no committed row, and skipping its query spares the reader
        # three of its four queries per refill in the usual case of one busy class
        counts = self._writer.rows
        with self._lock:
            for prio in PUBLISH_ORDER:
                if counts[prio] == 0:
                    continue
                while len(out) < limit:
                    want = limit - len(out)
                    with self._read_lock:
                        fetched = self._reader.execute(
                            "SELECT rid, msg_id, seq, prio, kind, name, topic, type, payload, created, expires,"
                            " correlation_id, reply_to FROM outbox WHERE prio = ? AND seq > ? ORDER BY seq LIMIT ?",
                            (prio, self._cursor[prio], want)).fetchall()
                    for r in fetched:
                        self._cursor[prio] = r[2]
                        if r[0] in self._hidden:
                            continue
                        self._hidden[r[0]] = (prio, r[2])
                        out.append(Row(r[0], r[1], r[2], PRIORITIES[r[3]], r[4], r[5], r[6], r[7], bytes(r[8]), r[9],
                                       r[10], r[11], r[12]))
                    if len(fetched) < want:
                        break
        return out

    def ack(self, rids: list[int]) -> None:
        """The broker has these: delete them (batched into the writer's next transaction)."""
        if rids:
            self._writer.ack(list(rids))

    def park(self, rids: list[int], reason: str) -> Path:
        """The broker refused these for good (e.g. not authorised): resending would only block
        the link's window. They are appended to a dead-letter file beside the database
        (`<db>.parked.jsonl`, fsync'd) and only then deleted from the outbox: set aside for an
        operator, never lost. Returns the file."""
        parked = self.path.with_name(self.path.name + ".parked.jsonl")
        with self._read_lock:
            marks = ",".join("?" * len(rids))
            rows = self._reader.execute(
                f"SELECT msg_id, seq, topic, type, payload FROM outbox WHERE rid IN ({marks})", rids).fetchall()
        if rows:
            with open(parked, "a", encoding="utf-8") as f:
                for msg_id, seq, topic, type_, payload in rows:
                    f.write(json.dumps({"parked_at": self._clock.now().isoformat(), "reason": reason, "msg_id": msg_id,
                                        "seq": seq, "type": type_, "topic": topic,
                                        "payload": bytes(payload).decode("utf-8", "replace")}, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self.parked += len(rows)
        self.ack(list(rids))
        return parked

    def release(self, rids: list[int]) -> None:
        """These were in flight when the connection dropped: hand them out again."""
        with self._lock:
            for rid in rids:
                entry = self._hidden.pop(rid, None)
                if entry is not None:
                    prio, seq = entry
                    self._cursor[prio] = min(self._cursor[prio], seq - 1)

    def add_listener(self, listener: Callable[[], None], loop: asyncio.AbstractEventLoop | None = None) -> None:
        """`listener()` is called after each commit that stored rows (the link uses it to wake
        its publisher). It must be quick and must not block. Without `loop` it runs on the
        writer thread; with one it runs on that loop, in the same hand-over that answers the
        commit's puts made there (one `call_soon_threadsafe` per commit and loop, not two)."""
        self._listeners = [*self._listeners, (listener, loop)]

    def remove_listener(self, listener: Callable[[], None]) -> None:
        self._listeners = [(x, loop) for x, loop in self._listeners if x != listener]

    def _committed(self) -> OnLoops:
        """On the writer thread after a commit: run the thread's listeners, hand back the loops'."""
        on_loops: OnLoops = {}
        for listener, loop in self._listeners:
            if loop is not None:
                on_loops.setdefault(loop, []).append(listener)
                continue
            try:
                listener()
            except Exception:  # noqa: BLE001 - a listener must not break the writer
                log.exception("outbox listener failed")
        return on_loops

    def _resent(self, rows: list[tuple[int, int]]) -> None:
        """Rows stored with an old seq (answers sent again): the reader's cursor may be past
        them, so move it back (rows in flight are skipped by `_hidden`)."""
        with self._lock:
            for prio, seq in rows:
                self._cursor[prio] = min(self._cursor[prio], seq - 1)

    def _deleted(self, rids: list[int]) -> None:
        with self._lock:
            for rid in rids:
                self._hidden.pop(rid, None)

    # -- reporting --------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        w = self._writer
        now = self._clock.now().timestamp()
        oldest: dict[str, float | None] = {}
        with self._read_lock:
            for prio, name in enumerate(PRIORITIES):
                row = self._reader.execute("SELECT created FROM outbox WHERE prio = ? ORDER BY seq LIMIT 1", (prio,)).fetchone()
                oldest[name] = max(0.0, now - row[0]) if row else None
        waiting = w.waiting()
        at_cap = [name for p, name in enumerate(PRIORITIES) if name != "telemetry"
                  and (w.rows[p] >= self.caps[name].max_rows or w.bytes[p] >= self.caps[name].max_bytes or waiting[p])]
        with self._lock:
            inflight = len(self._hidden)
        return OutboxStats(
            rows=dict(zip(PRIORITIES, w.rows, strict=True)), bytes=dict(zip(PRIORITIES, w.bytes, strict=True)),
            oldest_age_s=oldest, dropped=dict(zip(PRIORITIES, w.dropped, strict=True)),
            waiting=dict(zip(PRIORITIES, waiting, strict=True)), at_cap=at_cap if not w.disk_full else [],
            inflight=inflight, seq=w.seq, disk_full=w.disk_full, errors=dict(w.errors),
            corrupt_moved_to=self.corrupt_moved_to, storage_fault=w.reason())

    def save_health(self, health_json: str) -> None:
        """Keep the link's last health snapshot for `portedge status` (read from the file).
        Written by the writer thread with its next commit: never a commit on the loop."""
        if not self._closed:
            self._writer.set_health(health_json)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        self._writer._conn.close()
        with self._read_lock:
            self._reader.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
