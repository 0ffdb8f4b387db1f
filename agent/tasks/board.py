"""The forklift task board: the driver's tasks, their progress and the driver's session.

Public API (stable; the PDA app's presenter uses only this):

    board = Board(path, node="pda-7", recorder=..., requester=..., clock=..., config=PdaSection())
    await board.start()                      # replays updates not yet handed to the outbox
    await board.close()

    It is the PDA node's `agent.interfaces.Workflow`: `emit(device, Scan)` takes a scanner's
    committed scan (through `scan_route` when the app set one, its presenter, else `scan`).

    board.tasks() -> list[TaskView]          # the logged-in driver's list: overdue, priority, due-by
    board.task(task_id) -> TaskView | None
    board.active -> TaskView | None          # the task scans apply to
    board.driver -> DriverView | None
    board.take_notices() -> list[Notice]     # cancelled/reassigned/new-task notices, once each
    board.subscribe(callback) -> unsubscribe # callback(BoardChange), called after every change
    board.unsent() -> int                    # transitions not yet committed to the outbox

    await board.login(badge, pin) -> LoginResult     # platform first, cached hash offline; at a shift
                                                     # change the driver before stays on if it fails
    await board.logout() -> None
    await board.accept(task_id) -> ScanResult        # ASSIGNED -> ACCEPTED, becomes active
    board.select(task_id) -> ScanResult              # make another accepted task active
    await board.scan(text) -> ScanResult             # location / piece / destination label
    await board.report_exception(reason, text="") -> ScanResult
    await board.complete() -> ScanResult             # DELIVERED -> COMPLETED

    board.command_handlers() -> {"task_assign": h, "task_cancel": h}   # for the link
        h: async (Command) -> None, raising agent.errors.InvalidCommandError on refusal

Invariants:
- A task's state changes only through `agent.tasks.table.step`; a refused scan changes no state
  (it is kept as evidence and sent with the task's next update).
- Every transition is committed to SQLite (task row + its TaskUpdate in `pending`) in one
  transaction before the driver is answered, then handed to the Recorder; updates reach the
  Recorder in commit order, each once per run (a crash may repeat one: `step` lets the
  platform drop it).
- The board never talks to the broker, a serial port or Kivy.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, get_args

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.model import PdaSection
from agent.contract.devices import Scan
from agent.contract.envelope import Command, body_as
from agent.contract.tasks import ExceptionReason, ScanEvidence, Task, TaskCancel, TaskUpdate
from agent.errors import IllegalTransition, InvalidCommandError, PortEdgeError
from agent.identifiers import LocationChecker, check_awb
from agent.interfaces import Handler, Recorder, Requester
from agent.tasks.messages import text as message
from agent.tasks.scans import ScanRules, read_piece
from agent.tasks.session import DriverSession
from agent.tasks.store import KEEP, Keep, TaskRow, TaskStore
from agent.tasks.table import NEW, VISIBLE, WITHDRAWN, WORKING, Act, Ev, State, step
from agent.tasks.views import BoardChange, DriverView, LoginResult, Notice, ScanResult, TaskView

log = logging.getLogger(__name__)

Observer = Callable[[BoardChange], None]

#: refused scans kept per task between two updates (a stuck trigger must not fill the disk)
MAX_EVIDENCE = 200
#: bytes of a scan kept as evidence
MAX_SCAN_CHARS = 256
#: the reasons a driver may give, by their wire string
EXCEPTION_REASONS: dict[str, ExceptionReason] = {reason: reason for reason in get_args(ExceptionReason)}


class Board:
    def __init__(self, path: str | Path, *, node: str, recorder: Recorder, requester: Requester | None = None,
                 clock: Clock = SYSTEM_CLOCK, config: PdaSection | None = None, synchronous: str = "FULL"):
        self.node = node
        self.config = config or PdaSection()
        self._store = TaskStore(path, synchronous)
        self._recorder = recorder
        self._clock = clock
        locations = (LocationChecker(self.config.location_pattern, self.config.location_format)
                     if self.config.location_pattern else LocationChecker())
        self.rules = ScanRules(locations, self.config.allow_bare_awb)
        self._session = DriverSession(self._store, requester, clock, self.config)
        self._lock = asyncio.Lock()
        self._observers: list[Observer] = []
        self._notices: list[Notice] = []
        #: refused scans by code, commands refused, updates that could not be recorded yet
        self.counters: Counter[str] = Counter()
        #: where a scanner's scans go instead of `scan` (the PDA app's presenter, which calls
        #: `scan` and shows the answer): `route(data, device)`
        self.scan_route: Callable[[str, str], Awaitable[object]] | None = None

    # -- life --------------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._lock:
            await self._flush()

    async def flush(self) -> int:
        """Hand unsent updates to the recorder (in order); returns how many are still unsent."""
        async with self._lock:
            await self._flush()
            return self._store.pending_count()

    async def run(self) -> None:
        """Nothing runs on its own: the board moves on scans, taps and commands."""

    async def close(self) -> None:
        self._store.close()

    def storage_reasons(self) -> list[str]:
        """Health: the task file was corrupt and moved aside, or its writes fail (agent.storage)."""
        return self._store.reasons()

    async def emit(self, device: str, event: Any) -> None:
        """A device's event (committed to the outbox already): scans go to the active task."""
        if not isinstance(event, Scan):
            return
        if self.scan_route is not None:
            await self.scan_route(event.data, device)
            return
        result = await self.scan(event.data)
        log.info("scan %r from %s: %s", event.data, device, result.code)

    # -- reading -----------------------------------------------------------------------------
    @property
    def driver(self) -> DriverView | None:
        return self._session.driver

    def tasks(self) -> list[TaskView]:
        now = self._clock.now()
        views = [self._view(row, now) for row in self._store.tasks() if self._visible(row)]
        views.sort(key=lambda v: (not v.overdue, v.task.priority, v.task.due_by, v.task_id))
        return views

    def task(self, task_id: str) -> TaskView | None:
        row = self._store.task(task_id)
        return self._view(row, self._clock.now()) if row else None

    @property
    def active(self) -> TaskView | None:
        row = self._active_row()
        return self._view(row, self._clock.now()) if row else None

    def take_notices(self) -> list[Notice]:
        notices, self._notices = self._notices, []
        return notices

    def subscribe(self, callback: Observer) -> Callable[[], None]:
        self._observers.append(callback)
        return lambda: self._observers.remove(callback) if callback in self._observers else None

    def unsent(self) -> int:
        return self._store.pending_count()

    # -- driver session ----------------------------------------------------------------------
    async def login(self, badge: str, pin: str) -> LoginResult:
        async with self._lock:
            result = await self._session.login(badge, pin)
            if result.ok:
                await self._drop_active_if_hidden()
            self._notify(BoardChange(None))
            return result

    async def logout(self) -> None:
        async with self._lock:
            await self._session.logout()
            await self._store.set_active(None)
            self._notify(BoardChange(None))

    # -- driver actions ----------------------------------------------------------------------
    async def accept(self, task_id: str) -> ScanResult:
        async with self._lock:
            row, refusal = self._driver_row(task_id)
            if row is None:
                return refusal
            return await self._act(row, Ev.ACCEPT, "ok_accepted")

    def select(self, task_id: str) -> ScanResult:
        row, refusal = self._driver_row(task_id)
        if row is None:
            return refusal
        if row.state not in WORKING:
            return self._refuse(row, "accept_first" if row.state is State.ASSIGNED else "wrong_state")
        self._store.set_active_soon(task_id)  # not awaited: select is sync; it commits in order
        self._notify(BoardChange(task_id, row.state))
        return self._result(True, "ok_selected", row)

    async def scan(self, text: str) -> ScanResult:
        async with self._lock:
            if self.driver is None:
                return self._refuse(None, "not_logged_in")
            row = self._active_row()
            if row is None:
                return self._refuse(None, "no_active_task")
            verdict = self.rules.interpret(row.task, row.state, tuple(row.picked), text)
            evidence = ScanEvidence(data=text[:MAX_SCAN_CHARS], at=self._clock.now(),
                                    accepted=verdict.event is not None, reason="" if verdict.event else verdict.code)
            if verdict.event is None:
                self._keep(row, evidence)
                await self._store.save(row)
                await self._flush()  # a chance to send what a full outbox refused earlier
                self._notify(BoardChange(row.task.task_id, row.state))
                return self._refuse(row, verdict.code, verdict.detail)
            return await self._act(row, verdict.event, verdict.code, evidence=evidence, key=verdict.key)

    async def report_exception(self, reason: str, text: str = "", task_id: str | None = None) -> ScanResult:
        async with self._lock:
            if task_id is None:
                row = self._active_row()
                if row is None:
                    return self._refuse(None, "no_active_task" if self.driver else "not_logged_in")
            else:
                row, refusal = self._driver_row(task_id)
                if row is None:
                    return refusal
            known = EXCEPTION_REASONS.get(reason)
            if known is None or (known == "other" and not text.strip()):
                return self._refuse(row, "bad_reason")
            return await self._act(row, Ev.EXCEPTION, "ok_exception", exception=known, note=text.strip())

    async def complete(self) -> ScanResult:
        async with self._lock:
            row = self._active_row()
            if row is None:
                return self._refuse(None, "no_active_task" if self.driver else "not_logged_in")
            return await self._act(row, Ev.COMPLETE, "ok_completed")

    # -- platform commands -------------------------------------------------------------------
    def command_handlers(self) -> dict[str, Handler]:
        return {"task_assign": self.on_task_assign, "task_cancel": self.on_task_cancel}

    async def on_task_assign(self, command: Command) -> None:
        task = body_as(command, Task)
        _check_task(task)
        async with self._lock:
            row = self._store.task(task.task_id)
            if row is not None and row.state not in WITHDRAWN:
                if row.task == task:
                    return None  # a repeated delivery of the same command
                self.counters["refused:task_assign"] += 1
                raise InvalidCommandError("refused", f"task {task.task_id} is already on this PDA ({row.state}) "
                                                     "with other content; cancel it first")
            if row is None:
                row = TaskRow(task, NEW, 0, [], [], None, "", self._clock.now())
                event = Ev.ASSIGN
            else:
                row.task = task
                event = Ev.REASSIGN_HERE
            await self._apply(row, event)
        return None

    async def on_task_cancel(self, command: Command) -> None:
        cancel = body_as(command, TaskCancel)
        async with self._lock:
            row = self._store.task(cancel.task_id)
            if row is None:
                self.counters["refused:task_cancel"] += 1
                raise InvalidCommandError("refused", f"no task {cancel.task_id} on this PDA")
            if row.state in WITHDRAWN:
                return None
            if row.state is State.COMPLETED:
                self.counters["refused:task_cancel"] += 1
                raise InvalidCommandError("refused", f"task {cancel.task_id} is already completed")
            event = Ev.CANCEL if cancel.reason == "cancelled" else Ev.REASSIGN
            await self._apply(row, event, note=cancel.note)
        return None

    # -- inside ------------------------------------------------------------------------------
    async def _act(self, row: TaskRow, event: Ev, code: str, **kwargs: Any) -> ScanResult:
        try:
            await self._apply(row, event, **kwargs)
        except IllegalTransition:
            return self._refuse(row, "wrong_state")
        return self._result(True, code, row)

    async def _apply(self, row: TaskRow, event: Ev, *, evidence: ScanEvidence | None = None, key: str | None = None,
                     exception: ExceptionReason | None = None, note: str = "") -> None:
        """One table step: persist the task, its update and the active task in one commit, then
        tell, then record."""
        target = step(row.state, event)
        previous = None if row.state is NEW else row.state.wire
        if Act.RESET in target.actions:
            row.picked, row.evidence, row.exception, row.note = [], [], None, ""
        if Act.ADD_PIECE in target.actions and key is not None:
            row.picked.append(key)
        if evidence is not None:
            self._keep(row, evidence)
        if event is Ev.EXCEPTION:
            row.exception, row.note = exception, note
        elif note:
            row.note = note
        row.state = target.state
        update = None
        if Act.EMIT in target.actions:
            row.step += 1
            driver = self.driver
            update = TaskUpdate(task_id=row.task.task_id, state=row.state.wire, previous=previous, step=row.step,
                                driver=driver.badge if driver else None, scans=row.evidence, picked=len(row.picked),
                                exception=exception if event is Ev.EXCEPTION else None, note=note)
            row.evidence = []
        active: str | None | Keep = KEEP
        if Act.ACTIVATE in target.actions:
            active = row.task.task_id
        elif Act.DEACTIVATE in target.actions and self._store.active == row.task.task_id:
            active = None
        await self._store.save(row, update, active=active)  # task, update, active task: one commit
        notices: tuple[Notice, ...] = ()
        if Act.NOTICE in target.actions and self._for_driver(row):
            code = {Ev.CANCEL: "notice_cancelled", Ev.REASSIGN: "notice_reassigned"}.get(event, "notice_assigned")
            zh, en = message(code)
            notices = (Notice(row.task.task_id, code, zh, en, note, self._clock.now()),)
            self._notices.extend(notices)
        # shown once committed: the update waits in `pending` (replayed after a reboot) and goes
        # to the outbox next, so the screen does not wait for the outbox's fsync too
        self._notify(BoardChange(row.task.task_id, row.state, notices))
        await self._flush()

    async def _flush(self) -> None:
        for n, update in self._store.pending():
            try:
                await self._recorder.record("task_update", update, "transactional")
            except (PortEdgeError, OSError) as err:
                # kept in `pending`; the next transition or flush() retries, still in order
                self.counters["record_failed"] += 1
                log.warning("task update %s/%d not recorded yet: %s", update.task_id, update.step, err)
                return
            self._store.mark_sent(n)  # its delete is queued; nobody waits for that fsync

    def _keep(self, row: TaskRow, evidence: ScanEvidence) -> None:
        row.evidence.append(evidence)
        if len(row.evidence) > MAX_EVIDENCE:
            del row.evidence[: len(row.evidence) - MAX_EVIDENCE]
            self.counters["evidence_dropped"] += 1

    def _for_driver(self, row: TaskRow) -> bool:
        driver = self.driver
        return row.task.driver is None or (driver is not None and row.task.driver == driver.badge)

    def _visible(self, row: TaskRow) -> bool:
        return self.driver is not None and row.state in VISIBLE and self._for_driver(row)

    def _active_row(self) -> TaskRow | None:
        active = self._store.active
        row = self._store.task(active) if active else None
        if row is None or row.state not in WORKING or not self._visible(row):
            return None
        return row

    async def _drop_active_if_hidden(self) -> None:
        if self._store.active and self._active_row() is None:
            await self._store.set_active(None)

    def _driver_row(self, task_id: str) -> tuple[TaskRow | None, ScanResult]:
        if self.driver is None:
            return None, self._refuse(None, "not_logged_in")
        row = self._store.task(task_id)
        if row is None or row.state not in VISIBLE:
            return None, self._refuse(None, "unknown_task")
        if not self._for_driver(row):
            return None, self._refuse(row, "not_your_task")
        return row, ScanResult.of(True, "")

    def _refuse(self, row: TaskRow | None, code: str, detail: str = "") -> ScanResult:
        self.counters[f"refused:{code}"] += 1
        return self._result(False, code, row, detail)

    @staticmethod
    def _result(ok: bool, code: str, row: TaskRow | None, detail: str = "") -> ScanResult:
        if row is None:
            return ScanResult.of(ok, code, detail=detail)
        return ScanResult.of(ok, code, row.task.task_id, row.state if row.state is not NEW else None,
                             len(row.picked), row.task.pieces, detail)

    def _view(self, row: TaskRow, now) -> TaskView:
        overdue = row.state in VISIBLE and now > row.task.due_by
        return TaskView(row.task, row.state, tuple(row.picked), overdue, row.exception, row.note)

    def _notify(self, change: BoardChange) -> None:
        for callback in list(self._observers):
            try:
                callback(change)
            except Exception:  # a broken screen must not stop the board: the UI's bug, logged
                log.exception("task board observer failed")




def _check_task(task: Task) -> None:
    """What the contract's types cannot say about a task, refused before it reaches a driver."""
    if task.awb is None and not task.piece_labels:
        raise InvalidCommandError("invalid_schema", "a task needs an air waybill or piece labels")
    if task.awb is not None and not check_awb(task.awb).ok:
        raise InvalidCommandError("invalid_schema", f"awb {task.awb}: {check_awb(task.awb).reason}")
    if task.awb is not None and check_awb(task.awb).value != task.awb:
        raise InvalidCommandError("invalid_schema", f"awb {task.awb!r} must be sent as 11 digits")
    if task.piece_labels:
        if len(task.piece_labels) != task.pieces:
            raise InvalidCommandError("invalid_schema",
                                      f"{len(task.piece_labels)} piece labels for {task.pieces} pieces")
        keys = [read_piece(label) for label in task.piece_labels]
        bad = [label for label, k in zip(task.piece_labels, keys, strict=True) if k.key is None]
        if bad:
            raise InvalidCommandError("invalid_schema", f"unreadable piece labels: {bad[:5]}")
        if len({k.key for k in keys}) != len(keys):
            raise InvalidCommandError("invalid_schema", "piece labels repeat")
