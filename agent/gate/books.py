"""The lane's books: records and journal writes, done in order behind the lane's turns and
never in their way.

Theory of operation. A turn hands its bookkeeping (lane events, the transaction record,
journal writes, offline decisions to reconcile) to `LaneBooks.add`, which only appends to a
queue and returns: no turn, no I/O poll and no tick ever waits for a commit or a full outbox.
- a lane event (control class) is handed to the recorder at once and not waited for; at
  most `max_pending` are outstanding. Beyond that (the class at its cap, a slow disk) further
  lane events are counted and not recorded, and once one can be handed over again a summary
  lane event (`what = "records"`, `value = "not_recorded"`) says how many and since when.
  They do not queue behind a transaction record that waits for room.
- One task, the bookkeeper, works the rest in order. A gate transaction record is awaited,
  and while storage is full it is tried again every `retry_s` until it is committed: it is
  never the one dropped. Any other failure keeps its journal row, so a restart records the
  transaction as aborted. Journal writes keep their order with the records: the journal row
  of a transaction is cleared only after its record was committed.

Never: drop a gate transaction record, clear a journal row before its record is committed,
or make a caller of `add` wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime

from agent.clock import Clock
from agent.contract.gate import LaneEvent
from agent.errors import StorageFullError
from agent.gate import events as ev
from agent.gate.journal import Journal
from agent.interfaces import Recorder

log = logging.getLogger(__name__)

MAX_PENDING_LANE_EVENTS = 256


class LaneBooks:
    def __init__(self, lane: str, recorder: Recorder, journal: Journal, clock: Clock, counters: Counter[str], *,
                 max_pending: int = MAX_PENDING_LANE_EVENTS, retry_s: float = 1.0):
        self.lane, self.recorder, self.journal, self.clock = lane, recorder, journal, clock
        self.counters = counters
        self.max_pending, self.retry_s = max_pending, retry_s
        self._queue: deque[ev.Action] = deque()
        self._pending: set[asyncio.Task] = set()  # lane events handed over, not yet committed
        self._worker: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self.not_recorded = 0  # lane events not recorded since `not_recorded_since`, not yet summarised
        self.not_recorded_since: datetime | None = None
        self.unrecorded: set[str] = set()  # transactions whose record failed: their journal row stays

    # -- the turn's side ------------------------------------------------------------------------
    def add(self, actions: Iterable[ev.Action]) -> None:
        """Queue bookkeeping actions (RecordLaneEvent, RecordTransaction, Journal, AwaitReconcile)."""
        queued = len(self._queue)
        for action in actions:
            if isinstance(action, ev.RecordLaneEvent):
                self._hand_over(action.event)
            else:
                self._queue.append(action)
        if len(self._queue) == queued:
            return
        if self._worker is None or self._worker.done():
            self._wake, self._idle = asyncio.Event(), asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"gate-books-{self.lane}")
        assert self._wake is not None and self._idle is not None
        self._idle.clear()
        self._wake.set()

    def lane_event(self, event: LaneEvent) -> None:
        self.add([ev.RecordLaneEvent(event)])

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def drain(self) -> None:
        """Wait until everything queued so far is done (lane events committed or given up)."""
        while True:
            if self._worker is not None and not self._worker.done() and self._idle is not None \
                    and not self._idle.is_set():
                await self._idle.wait()
            elif self._pending:
                await asyncio.gather(*list(self._pending), return_exceptions=True)
            else:
                return

    async def close(self, timeout: float) -> None:
        """Finish what is queued within `timeout`, then stop. What is left is not lost: a
        transaction's journal row is still there and a restart records it as aborted."""
        try:
            async with asyncio.timeout(timeout):
                await self.drain()
        except TimeoutError:
            log.warning("lane books not finished at shutdown (%d queued); journalled transactions are"
                        " recorded as aborted at the next start", len(self._queue))
        tasks = [t for t in (self._worker, *self._pending) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the bookkeeper ---------------------------------------------------------------------------
    async def _work(self) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._do(self._queue.popleft())
            except Exception:  # the books must outlive any one bad entry
                log.exception("lane bookkeeping failed")
                self.counters["books_failed"] += 1

    async def _do(self, action: ev.Action) -> None:
        match action:
            case ev.RecordTransaction(transaction=tx):
                await self._record_transaction(tx)
            case ev.Journal(transaction_id=tid, draft=draft):
                await self._journal(tid, draft)
            case ev.AwaitReconcile(request=request, decision=decision):
                try:
                    await self.journal.add_reconcile(self.lane, request, decision)
                except Exception:  # a full disk must not stop the lane; the decision is on record
                    log.exception("offline decision not queued for reconciliation")
                    self.counters["reconcile_queue_failed"] += 1

    def _hand_over(self, event: LaneEvent) -> None:
        if len(self._pending) >= self.max_pending:
            self._not_recorded(1)
            return
        if self.not_recorded and len(self._pending) < self.max_pending - 1:
            count, since = self.not_recorded, self.not_recorded_since
            self.not_recorded, self.not_recorded_since = 0, None
            summary = LaneEvent(lane=self.lane, what="records", value="not_recorded",
                                detail=f"{count} lane event(s) not recorded since {since.isoformat() if since else '?'}:"
                                       " the outbox control class was full or slow")
            self._spawn(summary, count, since)
        self._spawn(event, 1, None)

    def _spawn(self, event: LaneEvent, count: int, since: datetime | None) -> None:
        task = asyncio.get_running_loop().create_task(self._record_lane_event(event, count, since))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record_lane_event(self, event: LaneEvent, count: int, since: datetime | None) -> None:
        try:
            await self.recorder.record("lane_event", event, "control")
        except Exception as err:
            if not isinstance(err, StorageFullError):
                log.exception("could not record lane_event")
            self.counters["record_failed.lane_event"] += 1
            self._not_recorded(count, since)

    def _not_recorded(self, count: int, since: datetime | None = None) -> None:
        if not self.not_recorded:
            log.warning("lane events are not being recorded (the outbox control class is full or slow);"
                        " counting them, a summary follows")
        self.counters["lane_event_not_recorded"] += count
        self.not_recorded += count
        first = since or self.clock.now()
        if self.not_recorded_since is None or first < self.not_recorded_since:
            self.not_recorded_since = first

    async def _record_transaction(self, tx) -> None:
        waited = False
        while True:
            try:
                await self.recorder.record("gate_transaction", tx, "transactional")
                return
            except StorageFullError as err:
                if not waited:
                    log.error("gate transaction %s not stored yet (%s): trying again every %g s",
                              tx.transaction_id, err, self.retry_s)
                    waited = True
                self.counters["record_waiting.gate_transaction"] += 1
                await asyncio.sleep(self.retry_s)
            except Exception:
                # keep the journal row: a restart records the transaction as aborted, not lost
                log.exception("could not record gate_transaction")
                self.counters["record_failed.gate_transaction"] += 1
                self.unrecorded.add(tx.transaction_id)
                return

    async def _journal(self, tid: str, draft: dict | None) -> None:
        try:
            if draft is not None:
                await self.journal.save(self.lane, tid, draft)
            elif tid not in self.unrecorded:
                await self.journal.clear(self.lane, tid)
        except Exception:
            log.exception("journal write failed for %s", tid)
            self.counters["journal_failed"] += 1
