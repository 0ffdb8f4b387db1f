"""The outbox's single writer thread: group commit, seq assignment, caps and disk full.

Theory of operation: callers append `PutRequest`s and acked row ids under one condition
lock and wake the thread. The thread takes everything queued, applies the caps, and writes
deletes and inserts in ONE transaction; while its fsync runs (SQLite releases the GIL) the
next batch gathers. So N concurrent producers share one fsync, which is what makes
`synchronous=FULL` affordable. A request moves PENDING -> COMMITTING -> DONE, or PENDING ->
CANCELLED when its caller gives up first (`PutState`); a rolled-back commit puts it back to
PENDING. The requests of one `put_many` travel together: taken into one transaction whole
(a burst waits for one commit, and is stored all or not at all).

Invariants:
- A request is completed (seq set, caller woken) only after COMMIT returned. Callers on an
  asyncio loop are woken with one `call_soon_threadsafe` per loop and commit, never per row.
- `seq` advances only inside a transaction that commits: a failed transaction consumes no
  seq, so the per-node sequence has no gaps.
- control and transactional rows are never dropped; at their cap the request waits (state
  PENDING) until room appears or its caller gives up. Only telemetry drops, oldest first,
  and every drop is counted.
- An SQLite error (SQLITE_FULL, I/O) rolls the transaction back and the requests wait; rows
  committed earlier are untouched. The thread never dies from it. The fault is read once, by
  agent.storage.classify, and told in the operator's words (`reason()`).
- A file removed under the running node is rebuilt from this thread's open handle before the
  next commit (agent.storage.restore): without that, WAL mode would go on committing into the
  unlinked file and every record "stored" after the removal would vanish at the next restart.
- The link's health snapshot is written here too (`set_health`), never from the loop.
- Only a cycle that stores records is fsync'd (under `synchronous=FULL`): a cycle of deletes
  and the health snapshot alone commits with NORMAL, so an idle node's heartbeat costs one
  fsync, not three (its insert; the health; its delete after PUBACK).

This module must never complete a request before its commit, nor delete a row that was not
acked or (telemetry only) dropped by the cap/age policy.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from agent import storage
from agent.clock import Clock
from agent.errors import StorageFullError
from agent.outbox.schema import ANSWERS_KEPT_S, Priority, stamp_seq

log = logging.getLogger(__name__)

#: listeners to run on an asyncio loop after a commit, by loop (see Writer._finish_all)
OnLoops = dict[Any, list[Callable[[], None]]]


class PutState(Enum):
    """Where a request is on its way into the file."""

    PENDING = "pending"  # queued, or waiting at its class's cap; its caller may still withdraw it
    COMMITTING = "committing"  # in the transaction being written: it will be DONE, or PENDING again on rollback
    DONE = "done"  # committed (or found already stored); its caller has been or is being woken
    CANCELLED = "cancelled"  # withdrawn while PENDING: never written


PENDING, COMMITTING, DONE, CANCELLED = PutState
TELEMETRY = Priority.TELEMETRY
CLASSES = len(Priority)
_CHUNK = 500  # SQLite's host-parameter limit is 999 on old builds
#: `synchronous` modes whose WAL commits fsync (the others never do)
_FLUSHING = ("FULL", "EXTRA")
_ACK_BATCH = 256
_ACK_LINGER_S = 0.02


class Waiter(Protocol):
    """The asyncio side of a put (agent.outbox.waiting): woken on its loop once per request."""

    loop: Any  # the asyncio loop the caller awaits on

    def answered(self) -> None: ...


@dataclass(slots=True, eq=False)
class PutRequest:
    prio: Priority
    payload: bytes  # serialised with the seq placeholder (see schema.stamp_seq)
    msg_id: str
    kind: str
    name: str | None
    topic: str | None
    type: str
    created: float
    expires: float | None
    correlation_id: str | None
    reply_to: str | None
    reuse_id: bool = False
    answer_key: str | None = None
    #: a stored answer sent again: `payload` is final (seq already in it) and keeps this seq
    fixed_seq: int = 0
    #: on the first request of a put_many: how many requests from here are one burst, and their bytes
    together: int = 1
    together_bytes: int = 0
    on_done: Callable[[PutRequest], None] | None = None  # a caller in a thread: called on the writer thread
    waiter: Waiter | None = None  # a caller on an asyncio loop: answered there, in batches (_finish_all)
    state: PutState = PENDING
    seq: int = 0
    final: bytes | None = None
    error: BaseException | None = None


@dataclass(slots=True)
class Cap:
    max_rows: int
    max_bytes: int
    max_age_s: float | None = None


class Writer:
    def __init__(self, conn: sqlite3.Connection, caps: list[Cap], clock: Clock, group_commit_s: float,
                 on_deleted: Callable[[list[int]], None], on_committed: Callable[[], OnLoops],
                 on_resent: Callable[[list[tuple[int, int]]], None] | None = None, *,
                 path: Path | None = None, synchronous: str = "FULL", on_restored: Callable[[], None] | None = None):
        self._conn = conn
        self._on_resent = on_resent
        self.path = path
        self._synchronous = synchronous
        self._on_restored = on_restored
        self._watch = storage.FileWatch(path) if path is not None else None
        self.fault: storage.Fault | None = None
        self.fault_detail = ""
        self.restored: str | None = None
        self._told: tuple[storage.Fault | None, float] = (None, 0.0)
        self._health: str | None = None
        self._caps = caps
        self._clock = clock
        self._linger = group_commit_s
        self._on_deleted = on_deleted
        self._on_committed = on_committed
        self._cond = threading.Condition()
        self._incoming: list[PutRequest] = []
        self._acks: list[int] = []
        self._waiting: list[deque[PutRequest]] = [deque() for _ in range(CLASSES)]
        self._stop = False
        self._last_batch = 0
        self._last_prune = 0.0
        self._last_answer_prune = 0.0
        self._ack_since: float | None = None
        self.rows = [0] * CLASSES
        self.bytes = [0] * CLASSES
        self.dropped = [0] * CLASSES
        self.disk_full = False
        self.errors: dict[str, int] = {}
        self.commits = 0
        self.unsynced_commits = 0  # cycles with deletes or health only, committed without an fsync
        self.seq = int(self._meta("seq") or 0)
        for p in Priority:
            self.dropped[p] = int(self._meta(f"dropped:{p.value}") or 0)
        for prio, count, size in conn.execute("SELECT prio, COUNT(*), COALESCE(SUM(length(payload)), 0) FROM outbox GROUP BY prio"):
            self.rows[prio], self.bytes[prio] = count, size
        self._thread = threading.Thread(target=self._run, name="portedge-outbox-writer", daemon=True)
        self._thread.start()

    def _meta(self, key: str):
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- called from any thread -------------------------------------------------------------

    def submit(self, reqs: Sequence[PutRequest]) -> None:
        """Queue requests (one lock, one wake-up). A put_many's requests must come in one call,
        its first one carrying `together`: they stay side by side in their class's queue."""
        with self._cond:
            if self._stop:
                raise StorageFullError("the outbox is closed")
            self._incoming.extend(reqs)
            self._cond.notify()

    def set_health(self, health_json: str) -> None:
        """Keep this health snapshot in meta at the next commit (or alone, soon)."""
        with self._cond:
            self._health = health_json
            self._cond.notify()

    def reason(self) -> str | None:
        """Why writes fail now, or that the file was rebuilt, in the operator's words."""
        if self.disk_full:
            return storage.describe(self.fault or storage.Fault.IO, self.path or "outbox", self.fault_detail)
        if self.restored:
            return storage.describe(storage.Fault.GONE, self.path or "outbox",
                                    f"restored from the running node at {self.restored}")
        return None

    def ack(self, rids: list[int]) -> None:
        with self._cond:
            self._acks.extend(rids)
            self._cond.notify()

    def cancel(self, reqs: Sequence[PutRequest]) -> bool:
        """Withdraw requests (one put, or one put_many's) that have not started committing.
        False: they are committing or done (a burst is taken whole, so never part of it)."""
        with self._cond:
            if all(req.state is PENDING for req in reqs):
                for req in reqs:
                    req.state = CANCELLED
                return True
            return False

    @staticmethod
    def _clock_mono() -> float:
        return time.monotonic()  # a real-time batching window, not a scenario time

    def waiting(self) -> list[int]:
        return [sum(1 for r in q if r.state is PENDING) for q in self._waiting]

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._incoming or self._stop or self._acks_due() or self._health is not None):
                    if not self._cond.wait(_ACK_LINGER_S if self._acks else 0.2 if any(self._waiting) else 1.0):
                        if not self._acks or self._acks_due():
                            break
                if self._linger and self._incoming and len(self._incoming) < self._last_batch and not self._stop:
                    self._cond.wait(self._linger)  # companions are likely: the last batch was bigger
                batch, self._incoming = self._incoming, []
                acks, self._acks = self._acks, []
                self._ack_since = None
                stopping = self._stop
                for req in batch:
                    self._waiting[req.prio].append(req)
            self._last_batch = len(batch)
            try:
                self._cycle(acks)
            except Exception:  # noqa: BLE001 - the writer must outlive any single bad cycle
                log.exception("outbox writer cycle failed; retrying")
                self._count("writer_error")
            if stopping:
                self._fail_waiting(StorageFullError("the outbox is closed"))
                return

    def _acks_due(self) -> bool:
        """Deletes ride along with the next insert commit; alone they wait a little to share
        one fsync (losing an unflushed delete only means one harmless re-send)."""
        if not self._acks:
            return False
        if self._ack_since is None:
            self._ack_since = self._clock_mono()
        return len(self._acks) >= _ACK_BATCH or self._clock_mono() - self._ack_since >= _ACK_LINGER_S

    def _count(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def _take(self) -> list[list[PutRequest]]:
        """Move what fits into COMMITTING, per class and in arrival order; a burst whole or not at all."""
        taken: list[list[PutRequest]] = [[] for _ in range(CLASSES)]
        rows, size = list(self.rows), list(self.bytes)
        with self._cond:
            for p in Priority:
                queue, cap = self._waiting[p], self._caps[p]
                while queue:
                    req = queue[0]
                    if req.state is not PENDING:
                        queue.popleft()
                        continue
                    count, length = req.together, req.together_bytes or len(req.payload)
                    if p != TELEMETRY and (rows[p] + count > cap.max_rows or size[p] + length > cap.max_bytes):
                        break  # backpressure: FIFO within the class, the caller waits
                    for _ in range(count):
                        member = queue.popleft()
                        member.state = COMMITTING
                        taken[p].append(member)
                    rows[p] += count
                    size[p] += length
        return taken

    def _requeue(self, taken: list[list[PutRequest]]) -> None:
        with self._cond:
            for p, reqs in enumerate(taken):
                for req in reversed(reqs):
                    req.state = PENDING
                    self._waiting[p].appendleft(req)

    def _cycle(self, acks: list[int]) -> None:
        taken = self._take()
        with self._cond:
            health, self._health = self._health, None
        if not acks and not any(taken) and not self._idle_work_due() and health is None:
            return
        if self._watch is not None and self._watch.gone() and not self._restore():
            self._requeue(taken)
            with self._cond:
                self._acks[:0] = acks
            return
        if any(taken) or self._synchronous not in _FLUSHING:
            self._commit(taken, acks, health)
            return
        # nothing is stored in this cycle, only deletes of acked rows and the health snapshot:
        # losing them to a power cut means one harmless re-send, so they skip the fsync and
        # become durable with the next record's (WAL keeps the file consistent either way)
        self._conn.execute("PRAGMA synchronous=NORMAL")
        try:
            self._commit(taken, acks, health)
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute(f"PRAGMA synchronous={self._synchronous}")
                self.unsynced_commits += 1

    def _commit(self, taken: list[list[PutRequest]], acks: list[int], health: str | None) -> None:
        conn = self._conn
        rows, size, dropped, seq = list(self.rows), list(self.bytes), list(self.dropped), self.seq
        deleted: list[int] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for i in range(0, len(acks), _CHUNK):
                chunk = acks[i:i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for rid, prio, length in conn.execute(
                        f"DELETE FROM outbox WHERE rid IN ({marks}) RETURNING rid, prio, length(payload)", chunk).fetchall():
                    rows[prio] -= 1
                    size[prio] -= length
                    deleted.append(rid)
            for p in Priority:
                for req in taken[p]:
                    seq = self._insert(req, seq)
                    if req.state is COMMITTING:
                        rows[p] += 1
                        size[p] += len(req.final or b"")
            self._drop_telemetry(rows, size, dropped)
            if seq != self.seq:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('seq', ?)", (seq,))
            for p in Priority:
                if dropped[p] != self.dropped[p]:
                    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (f"dropped:{p.value}", dropped[p]))
            if health is not None:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('health', ?)", (health,))
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback(err, taken, acks)
            return
        except Exception as err:  # a bad request or a bug: roll back, answer the callers, go on
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            log.exception("outbox write cycle failed; its puts are answered with the error")
            self._count("writer_error")
            failed = [req for reqs in taken for req in reqs]
            for req in failed:
                req.error = err
            with self._cond:
                self._acks[:0] = acks  # deletes are retried next cycle
            self._finish_all(failed)
            return
        self.rows, self.bytes, self.dropped, self.seq = rows, size, dropped, seq
        self.commits += 1
        if any(taken):
            if self.disk_full:
                log.info("outbox writes again after: %s", self.reason())
            self.disk_full, self.fault = False, None
        if deleted or acks:
            self._on_deleted(acks)
        resent = [(p.value, req.seq) for p in Priority for req in taken[p] if req.fixed_seq and req.state is COMMITTING]
        if resent and self._on_resent is not None:
            self._on_resent(resent)  # before the wake-up: the reader must look behind its cursor
        on_loops = self._on_committed() if any(taken) else {}
        self._finish_all([req for reqs in taken for req in reqs], on_loops)

    def _insert(self, req: PutRequest, seq: int) -> int:
        conn = self._conn
        if req.reuse_id:
            row = conn.execute("SELECT seq, payload FROM outbox WHERE msg_id = ?", (req.msg_id,)).fetchone()
            if row is not None:
                req.seq, req.final = row[0], bytes(row[1])
                req.state = DONE  # idempotent re-put: nothing new stored
                return seq
        if req.fixed_seq:
            # a stored answer sent again, byte for byte: it keeps its seq and takes no new one
            req.seq, req.final = req.fixed_seq, req.payload
            conn.execute(
                "INSERT INTO outbox (msg_id, seq, prio, kind, name, topic, type, payload, created, expires, correlation_id, reply_to)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (req.msg_id, req.seq, req.prio, req.kind, req.name, req.topic, req.type, req.final, req.created,
                 req.expires, req.correlation_id, req.reply_to))
            return seq
        seq += 1
        req.seq = seq
        req.final = stamp_seq(req.payload, seq)
        # OR IGNORE: a clashing id must not poison the whole batch (it would retry forever)
        cur = conn.execute(
            "INSERT OR IGNORE INTO outbox (msg_id, seq, prio, kind, name, topic, type, payload, created, expires, correlation_id, reply_to)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (req.msg_id, seq, req.prio, req.kind, req.name, req.topic, req.type, req.final, req.created, req.expires,
             req.correlation_id, req.reply_to))
        if cur.rowcount == 0:
            row = conn.execute("SELECT seq, payload FROM outbox WHERE msg_id = ?", (req.msg_id,)).fetchone()
            req.seq, req.final = row[0], bytes(row[1])
            req.state = DONE
            return seq - 1
        if req.answer_key:
            conn.execute("INSERT OR REPLACE INTO answers (cmd_id, topic, payload, at) VALUES (?, ?, ?, ?)",
                         (req.answer_key, req.topic or "", req.final, req.created))
        return seq

    def _drop_telemetry(self, rows: list[int], size: list[int], dropped: list[int]) -> None:
        """Telemetry over its caps or older than its age limit: drop the oldest, count them."""
        conn, cap = self._conn, self._caps[TELEMETRY]
        while rows[TELEMETRY] > cap.max_rows or size[TELEMETRY] > cap.max_bytes:
            excess = max(rows[TELEMETRY] - cap.max_rows, 1)
            gone = conn.execute(
                "DELETE FROM outbox WHERE rid IN (SELECT rid FROM outbox WHERE prio = ? ORDER BY seq LIMIT ?)"
                " RETURNING length(payload)", (TELEMETRY, min(excess, _CHUNK))).fetchall()
            if not gone:
                break
            rows[TELEMETRY] -= len(gone)
            size[TELEMETRY] -= sum(g[0] for g in gone)
            dropped[TELEMETRY] += len(gone)
        if not self._housekeeping_due():
            return
        now = self._clock.now().timestamp()
        self._last_prune = self._clock.monotonic()
        while cap.max_age_s is not None and rows[TELEMETRY] > 0:
            # oldest first by seq (indexed), so a deep backlog is never scanned whole
            gone = conn.execute(
                "DELETE FROM outbox WHERE rid IN (SELECT rid FROM outbox WHERE prio = ? ORDER BY seq LIMIT ?)"
                " AND created < ? RETURNING length(payload)", (TELEMETRY, _CHUNK, now - cap.max_age_s)).fetchall()
            rows[TELEMETRY] -= len(gone)
            size[TELEMETRY] -= sum(g[0] for g in gone)
            dropped[TELEMETRY] += len(gone)
            if len(gone) < _CHUNK:
                break
        if self._clock.monotonic() - self._last_answer_prune > 60.0:
            self._last_answer_prune = self._clock.monotonic()
            conn.execute("DELETE FROM answers WHERE at < ?", (now - ANSWERS_KEPT_S,))

    def _housekeeping_due(self) -> bool:
        return self._clock.monotonic() - self._last_prune >= 1.0

    def _idle_work_due(self) -> bool:
        """Only open an idle transaction when there is something to prune (no idle fsyncs)."""
        now = self._clock.monotonic()
        aged = self._caps[TELEMETRY].max_age_s is not None and self.rows[TELEMETRY] > 0
        return (aged and now - self._last_prune >= 1.0) or now - self._last_answer_prune > 60.0

    def _restore(self) -> bool:
        """The file was removed under us: rebuild it from this handle, or refuse puts."""
        assert self.path is not None
        try:
            new = storage.restore(self._conn, self.path, self._synchronous, "outbox")
        except storage.StorageError as err:
            if self.fault is not storage.Fault.GONE:
                log.error("outbox could not be restored (%s); puts wait, nothing is answered stored", err)
            self.disk_full, self.fault = True, storage.Fault.GONE
            self.fault_detail = err.detail if "refused" in err.detail else "new records are refused"
            self._count("storage_gone")
            return False
        old, self._conn = self._conn, new
        with contextlib.suppress(sqlite3.Error):
            old.close()
        self._watch = storage.FileWatch(self.path)
        self.restored = self._clock.now().isoformat(timespec="seconds")
        self._count("storage_restored")
        if self._on_restored is not None:
            self._on_restored()
        return True

    def _rollback(self, err: sqlite3.Error, taken: list[list[PutRequest]], acks: list[int]) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        fault = storage.classify(err, self.path)
        if fault is not self._told[0] or time.monotonic() - self._told[1] > 60.0:
            self._told = (fault, time.monotonic())  # once per kind and minute, not per retry
            log.error("outbox write failed: %s; puts wait, committed rows are safe",
                      storage.describe(fault, self.path or "outbox", str(err)))
        self.disk_full, self.fault = True, fault
        self.fault_detail = str(err) if fault in (storage.Fault.IO, storage.Fault.CORRUPT) else ""
        self._count("storage_full" if fault is storage.Fault.FULL else "storage_error")
        self._requeue(taken)
        if acks and any(taken):
            self._cycle_deletes_only(acks)
        elif acks:
            with self._cond:
                self._acks[:0] = acks  # try again next cycle

    def _cycle_deletes_only(self, acks: list[int]) -> None:
        """Deletes free pages; on a full disk they are what lets inserts succeed again."""
        with self._cond:
            self._acks[:0] = acks
            self._cond.notify()
        # the next cycle takes the acks first; requests wait in their queues meanwhile
        saved = self._waiting
        self._waiting = [deque() for _ in range(CLASSES)]
        try:
            with self._cond:
                acks, self._acks = self._acks, []
            self._cycle(acks)
        finally:
            with self._cond:
                for p in range(CLASSES):
                    saved[p].extend(self._waiting[p])
                self._waiting = saved

    def _finish_all(self, reqs: list[PutRequest], on_loops: OnLoops | None = None) -> None:
        """Wake the callers and run the commit's loop listeners (`on_loops`, the link's wake-up):
        one call_soon_threadsafe per asyncio loop, not one per row nor one per listener."""
        by_loop: dict[Any, list[Waiter]] = {}
        for req in reqs:
            req.state = DONE
            if req.waiter is not None:
                by_loop.setdefault(req.waiter.loop, []).append(req.waiter)
            elif req.on_done is not None:
                req.on_done(req)
        calls = on_loops or {}
        for loop in by_loop.keys() | calls.keys():
            try:
                loop.call_soon_threadsafe(_answer_all, by_loop.get(loop, ()), calls.get(loop, ()))
            except RuntimeError:
                pass  # that loop is closed: its callers are gone

    def _fail_waiting(self, error: BaseException) -> None:
        with self._cond:
            failed = [r for q in self._waiting for r in q if r.state is PENDING]
            for q in self._waiting:
                q.clear()
            for req in self._incoming:
                if req.state is PENDING:
                    failed.append(req)
            self._incoming = []
            for req in failed:
                req.error = error
        self._finish_all(failed)


def _answer_all(waiters: Sequence[Waiter], listeners: Sequence[Callable[[], None]]) -> None:
    """On the callers' loop: one call for every request a commit answered there, then the
    listeners of that loop (the link's wake-up)."""
    for waiter in waiters:
        waiter.answered()
    for listener in listeners:
        try:
            listener()
        except Exception:  # noqa: BLE001 - a listener must not keep the others from running
            log.exception("outbox listener failed")
