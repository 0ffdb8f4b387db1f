"""Does what the lane asks: the async side of the gate workflow.

The runner owns the lane, the barrier guard, the permit store and the journal. Every input
(I/O snapshot, camera read, weight, platform answer, tick, staff command) goes through `_run`,
which holds one lock: the lane handles the event (told first, when it changed, the guard's
`Interlock`: may the barrier move at all), the runner does the actions in order
(follow-up events such as a permit lookup are queued and handled in the same turn), writes
the barrier coils from the guard (only when they change), returns the table's refusal of a
command (`Refuse`) to whoever fed it, and hands the bookkeeping of the
turn (records, journal) to the lane's books (agent.gate.books), in order. A turn never waits
for storage: not for a commit, not for a full outbox class; so the I/O poll and the tick
loop, which feed turns, never wait for it either. A turn's journal writes of one transaction
collapse into the last one.

Never: write coils other than through `BarrierGuard.outputs`, execute an expired open, clear
the journal before the transaction record is committed, or let a recorder or device error
escape into the event loop (each is logged and counted).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

from agent import metrics
from agent.clock import Clock
from agent.contract.gate import (
    Decision,
    GateReconcile,
    LaneEvent,
    LaneEventKind,
    LaneInputs,
    VerifyAnswer,
    VerifyRequest,
)
from agent.errors import CommandExpired, InvalidAnswerError, RequestTimeoutError
from agent.gate import events as ev
from agent.gate.barrier import SAFE, BarrierGuard, BarrierPort, Outputs
from agent.gate.books import LaneBooks
from agent.gate.journal import Journal
from agent.gate.lane import Lane
from agent.gate.permits import PermitStore
from agent.interfaces import PriorityClass, Recorder, Requester

log = logging.getLogger(__name__)


class LaneDisplay(Protocol):
    async def show(self, text: str) -> None: ...


class LaneRunner:
    def __init__(self, lane: Lane, guard: BarrierGuard, recorder: Recorder, requester: Requester,
                 permits: PermitStore, journal: Journal, clock: Clock, port: BarrierPort | None = None,
                 display: LaneDisplay | None = None, on_reread: Callable[[], Awaitable[None]] | None = None):
        self.lane, self.guard, self.recorder, self.requester = lane, guard, recorder, requester
        self.permits, self.journal, self.clock = permits, journal, clock
        self.port, self.display, self.on_reread = port, display, on_reread
        self.settings = lane.settings
        self.counters: Counter[str] = Counter()
        self._last_write_error: str | None = None
        self.written: Outputs | None = None
        self.display_text = ""
        self._prev_inputs: LaneInputs | None = None
        self._interlock = False  # what the lane was last told of guard.safe_to_actuate
        self._lock = asyncio.Lock()  # one turn at a time: lane, actions, coils
        self.books = LaneBooks(self.settings.lane, recorder, journal, clock, self.counters)
        self._tasks: set[asyncio.Task] = set()
        #: set after every turn: wakes a station that ticks slowly while the lane is at rest
        self.stirred = asyncio.Event()

    # -- inputs ------------------------------------------------------------------------------
    async def feed(self, *events: ev.Event) -> ev.Refuse | None:
        """Run one turn; a command's event may come back refused by the table."""
        return await self._run(list(events))

    async def on_inputs(self, snapshot: LaneInputs) -> None:
        """A gate I/O snapshot: the guard learns it before the lane (safety first). A stale
        snapshot (the driver's fail-safe stand-in after a failed read) is a controller loss."""
        if snapshot.stale:
            await self.controller_lost("inputs stale: module not answering")
            return
        self.guard.observe(snapshot, self.clock.monotonic())
        edges = ev.input_edges(self._prev_inputs, snapshot)
        self._prev_inputs = snapshot
        await self._run(edges)

    async def controller_lost(self, detail: str = "") -> None:
        """The I/O module is gone: safe state, and the lane assumes the worst until it is back."""
        if self.guard.controller_lost:
            return  # already there: no event flood at the poll rate
        self.guard.lost()
        self._prev_inputs = None
        self.counters["controller_lost"] += 1
        self._lane_event("safety", "controller_lost", detail)
        await self._run([ev.Safety(True), ev.Photocell(True)])

    async def tick(self) -> None:
        await self._run([ev.Tick()])

    @property
    def at_rest(self) -> bool:
        """Nothing a tick could change: the lane idle with no timer armed, the barrier down on
        its closed limit with the coils written, no open wish, the module answering and no
        platform request out. Every time rule needs one of these to be false (a lane timer, a
        boom off its closed limit for the close hold-off, an open wish for its expiry), and
        each of them only becomes false in a turn, which sets `stirred`."""
        lane, guard, inputs = self.lane, self.guard, self.guard.inputs
        return (lane.state is ev.State.IDLE and lane.deadline is None and lane.backout_at is None
                and lane.close_due is None and not guard.want_open and inputs is not None
                and bool(inputs.closed_limit) and not guard.estop and not guard.controller_lost
                and self.written is not None and self._last_write_error is None and not self._tasks)

    async def safe_state(self, why: str) -> None:
        """No motion, red light; the lane's wish is 'closed' (closed only when the guard allows)."""
        async with self._lock:
            self.guard.request_close()
            self.written = None  # force a write even if we believe the coils are already safe
            await self._write(SAFE, why)

    # -- the turn ----------------------------------------------------------------------------
    async def _run(self, events: list[ev.Event]) -> ev.Refuse | None:
        async with self._lock:
            queue: deque[ev.Event] = deque(events)
            bookkeeping: list[ev.Action] = []
            refusals: list[ev.Refuse] = []
            if self._interlock != self.guard.safe_to_actuate:
                self._interlock = self.guard.safe_to_actuate
                queue.appendleft(ev.Interlock(self._interlock))
            spawned = len(self._tasks)
            while True:
                while queue:
                    for action in self.lane.handle(queue.popleft()):
                        if isinstance(action, ev.Refuse):
                            refusals.append(action)
                            continue
                        if isinstance(action, _BOOKKEEPING):
                            bookkeeping.append(action)
                            continue
                        follow = await self._do(action)
                        if follow is not None:
                            queue.append(follow)
                await self._write(self.guard.outputs(self.clock.monotonic()), "")
                abandoned = self.guard.take_abandoned()
                if abandoned is None:
                    break
                self.counters["open_abandoned"] += 1
                log.warning("barrier open abandoned: %s", abandoned)
                queue.append(ev.OpenRefused(abandoned))  # the lane learns it in this same turn
            if len(self._tasks) > spawned:
                await asyncio.sleep(0)  # let a new gate_verify leave before the records are written
            self.books.add(_coalesce(bookkeeping))  # queued, in turn order; never waited for here
            self.stirred.set()
            return refusals[0] if refusals else None

    async def _do(self, action: ev.Action) -> ev.Event | None:
        match action:
            case ev.SendVerify(request=request):
                self._spawn(self._verify(request))
            case ev.ConsultPermits(transaction_id=tid, plate=plate, containers=containers, at=at):
                try:
                    permit = self.permits.find(plate, containers, at)
                except Exception:  # a broken permit store must not open the barrier
                    log.exception("permit lookup failed")
                    self.counters["permit_lookup_failed"] += 1
                    permit = None
                return ev.PermitLookup(tid, permit)
            case ev.OpenBarrier(transaction_id=tid, expires_at=expires_at):
                return await self._open(tid, expires_at)
            case ev.CloseBarrier():
                self.guard.request_close()
            case ev.ShowDisplay(text=text):
                await self._show(text)
            case ev.RecordTransaction() | ev.RecordLaneEvent() | ev.Journal() | ev.AwaitReconcile():
                self.books.add([action])
            case ev.TriggerReread():
                if self.on_reread is not None:
                    await self._guarded(self.on_reread(), "reread_hook_failed")
            case ev.StartTimer():
                pass  # the station ticks every tick_s; deadlines live in the lane
        return None

    async def _open(self, tid: str | None, expires_at: float) -> ev.Event | None:
        if not self.guard.safe_to_actuate:
            self.counters["open_refused_unsafe"] += 1
            log.warning("open for %s refused: lane not safe to actuate", tid)
            self._lane_event("barrier", "refused", "unsafe: e-stop, controller lost or inputs unknown", tid)
            return ev.OpenRefused("unsafe: e-stop, controller lost or inputs unknown")
        try:
            self.guard.request_open(expires_at, self.clock.monotonic())
        except CommandExpired as err:
            self.counters["open_refused_expired"] += 1
            log.warning("open for %s refused: %s", tid, err)
            self._lane_event("barrier", "refused", f"expired: {err}", tid)
            return ev.OpenRefused(f"expired: {err}")
        return None

    # -- platform ----------------------------------------------------------------------------
    async def _verify(self, request: VerifyRequest) -> None:
        tid = request.transaction_id
        try:
            response = await self.requester.request("gate_verify", request, timeout=self.settings.late_answer_s)
        except (RequestTimeoutError, InvalidAnswerError, TimeoutError):  # no usable answer
            self.counters["verify_timeout"] += 1
            await self._run([ev.PlatformTimeout(tid, request)])
            return
        except Exception as err:  # the link's trouble is the lane's trouble, not a crash
            log.exception("gate_verify for %s failed", tid)
            await self._run([ev.PlatformError(tid, f"{type(err).__name__}: {err}"[:300], request)])
            return
        if not response.ok or response.body is None:
            reason = response.error.reason if response.error else "empty answer"
            await self._run([ev.PlatformError(tid, reason[:300], request)])
            return
        answer = _answer(response.body)
        async with self._lock:
            pending = self.journal.get_reconcile(tid)
        if pending is not None:
            await self._reconciled(pending[0], pending[1], answer, "late answer")
        else:
            await self._run([ev.Verdict(answer, request)])

    async def reconcile(self) -> int:
        """Ask again about every offline decision not yet reconciled. Returns how many were."""
        done = 0
        for request, decision in self.journal.pending_reconcile(self.settings.lane):
            try:
                response = await self.requester.request("gate_verify", request, timeout=self.settings.verify_s)
            except (RequestTimeoutError, InvalidAnswerError, TimeoutError):  # no usable answer
                break  # still offline: try again later
            if not response.ok or response.body is None:
                self.counters["reconcile_refused"] += 1
                continue
            if await self._reconciled(request, decision, _answer(response.body), "asked again"):
                done += 1
        return done

    async def _reconciled(self, request: VerifyRequest, decision: Decision, answer: VerifyAnswer, how: str) -> bool:
        agree = answer.allow == decision.allow
        body = GateReconcile(transaction_id=request.transaction_id, lane=self.settings.lane, offline=decision,
                             platform=answer, agree=agree, detail=how)
        if not agree:
            log.warning("offline decision for %s disagrees with the platform: %s", request.transaction_id, answer.reason)
        if await self._record("gate_reconcile", body, "transactional"):
            try:
                await self.journal.done_reconcile(request.transaction_id)
            except Exception:  # recorded: a restart re-asks and records it again (the platform drops repeats)
                log.exception("reconciled %s but could not clear its queue row", request.transaction_id)
                self.counters["journal_failed"] += 1
            self.counters["reconciled"] += 1
            return True
        return False

    # -- side effects ------------------------------------------------------------------------
    async def _record(self, type_: str, body: Any, priority: PriorityClass) -> bool:
        try:
            await self.recorder.record(type_, body, priority)
            return True
        except Exception:
            log.exception("could not record %s", type_)
            self.counters[f"record_failed.{type_}"] += 1
            return False

    def _lane_event(self, what: LaneEventKind, value: str, detail: str = "", tid: str | None = None) -> None:
        tid = tid or (self.lane.tx.transaction_id if self.lane.tx else None)
        self.books.lane_event(LaneEvent(lane=self.settings.lane, what=what, value=value,
                                        transaction_id=tid, detail=detail[:500]))

    async def _show(self, text: str) -> None:
        self.display_text = text
        if self.display is not None:
            await self._guarded(self.display.show(text), "display_failed")

    async def _write(self, out: Outputs, why: str) -> None:
        if out == self.written:
            if out.barrier_open:
                self.guard.open_written()  # the open coil is already on: the command is under way
            return
        if self.port is not None:
            try:
                await self.port.set_outputs(**asdict(out))
            except Exception as err:
                # retried every tick while the module is away: say it once per kind of failure
                reason = str(err)
                if reason != self._last_write_error:
                    log.warning("barrier outputs not written (retrying every tick): %s", reason)
                    self._last_write_error = reason
                self.counters["output_write_failed"] += 1
                return
        if self._last_write_error is not None:
            log.info("barrier outputs written again after: %s", self._last_write_error)
            self._last_write_error = None
        if out.barrier_open:
            self.guard.open_written()
        before, self.written = self.written, out
        metrics.BARRIER_MOVEMENTS.labels(_motion(out)).inc()
        self._lane_event("barrier", _motion(out), why)
        if before is None or (before.red, before.green) != (out.red, out.green):
            self._lane_event("light", "green" if out.green else "red")

    async def _guarded(self, awaitable: Awaitable[Any], counter: str) -> None:
        try:
            await awaitable
        except Exception:
            log.exception(counter)
            self.counters[counter] += 1

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for outstanding platform requests and the books (tests, shutdown)."""
        while self._tasks or self.books.backlog:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.books.drain()
        await self.books.drain()

    async def close(self, books_timeout: float = 5.0) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.books.close(books_timeout)


#: actions that record what happened: handed to the books after the coils and the platform request
_BOOKKEEPING = (ev.RecordTransaction, ev.RecordLaneEvent, ev.Journal, ev.AwaitReconcile)


def _coalesce(actions: list[ev.Action]) -> list[ev.Action]:
    """Drop a journal save that a later save in the same turn supersedes (one fsync, not three).
    A save followed by a delete is kept: if the record fails, the delete is skipped and the
    saved draft is what a restart records as aborted."""
    saves = [a for a in actions if isinstance(a, ev.Journal) and a.draft is not None]
    last = {a.transaction_id: i for i, a in enumerate(saves)}
    keep = {id(saves[i]) for i in last.values()}
    return [a for a in actions if not (isinstance(a, ev.Journal) and a.draft is not None) or id(a) in keep]


def _answer(body: Any) -> VerifyAnswer:
    if isinstance(body, VerifyAnswer):
        return body
    if hasattr(body, "model_dump"):
        body = body.model_dump()
    return VerifyAnswer.model_validate(body)


def _motion(out: Outputs) -> str:
    if out.barrier_open:
        return "opening"
    if out.barrier_close:
        return "closing"
    return "stopped"
