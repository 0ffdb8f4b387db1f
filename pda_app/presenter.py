"""The PDA app's only way to the task board: intents in, immutable view models out.

Theory of operation: the Kivy screens call intents (`login`, `accept`, `scan`, ...) and render
`view()`; the presenter calls the board, turns its answers into words in the chosen language
and tells subscribers that the view changed. The board tells the presenter about changes the
platform makes (a task cancelled mid-way) through its observer hook.

Scans reach `scan(text, source)` from either the keyboard wedge or a serial scanner driver:
which one does not matter past this point.

Must never import Kivy, open a serial port or touch SQLite: it is tested without a display.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Any, Literal

from agent.tasks.scans import read_piece
from agent.tasks.views import LoginResult, Notice, ScanResult, TaskView
from pda_app.i18n import LANGS, Lang, both, t

log = logging.getLogger(__name__)

Screen = Literal["login", "tasks", "detail", "exception"]
REASONS = ("piece_missing", "damaged", "wrong_location", "count_mismatch", "other")
WORKING = frozenset({"ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED"})
WITHDRAWN = frozenset({"CANCELLED", "REASSIGNED"})
MAX_PIECE_ROWS = 12  # beyond this the detail screen shows the count only
PIN_MAX = 12


@dataclass(frozen=True)
class StatusVM:
    online: bool
    online_text: str
    waiting: int
    waiting_text: str
    driver_text: str
    lang_button: str


@dataclass(frozen=True)
class LoginVM:
    title: str
    badge_label: str
    badge: str
    pin_label: str
    pin_mask: str
    focus: Literal["badge", "pin"]
    hint: str
    message: str
    message_is_error: bool
    busy: bool
    ok_text: str
    clear_text: str


@dataclass(frozen=True)
class TaskRowVM:
    task_id: str
    title: str
    route: str
    due_text: str
    overdue: bool
    overdue_text: str
    pieces_text: str
    state_text: str
    active: bool


@dataclass(frozen=True)
class TaskListVM:
    title: str
    rows: tuple[TaskRowVM, ...]
    empty_text: str
    logout_text: str


@dataclass(frozen=True)
class PieceVM:
    text: str
    done: bool


@dataclass(frozen=True)
class DetailVM:
    task_id: str
    title: str
    state: str
    state_text: str
    from_label: str
    source: str
    to_label: str
    destination: str
    due_text: str
    overdue: bool
    pieces_title: str
    pieces: tuple[PieceVM, ...]
    info: tuple[str, ...]
    next_text: str
    can_accept: bool
    can_complete: bool
    can_report: bool
    accept_text: str
    complete_text: str
    report_text: str
    back_text: str


@dataclass(frozen=True)
class FeedbackVM:
    ok: bool
    headline: str  # both languages: understood at a glance whichever is chosen
    message: str
    serial: int  # grows with every new answer, so the UI beeps once per answer
    auto_dismiss_s: float | None  # a wrong answer stays until the driver taps it


@dataclass(frozen=True)
class NoticeVM:
    text: str
    ok_text: str


@dataclass(frozen=True)
class ExceptionVM:
    title: str
    reasons: tuple[tuple[str, str], ...]
    cancel_text: str


@dataclass(frozen=True)
class ViewModel:
    screen: Screen
    lang: Lang
    status: StatusVM
    login: LoginVM
    tasks: TaskListVM
    detail: DetailVM | None
    exception: ExceptionVM
    feedback: FeedbackVM | None
    notice: NoticeVM | None


class Presenter:
    def __init__(self, board: Any, *, online: Callable[[], bool] = lambda: False,
                 waiting: Callable[[], int] | None = None, lang: Lang = "zh", tz: tzinfo | None = None):
        self.board = board
        self._online = online
        self._waiting = waiting or board.unsent
        self.lang: Lang = lang
        self.tz = tz
        self.screen: Screen = "tasks" if board.driver else "login"
        self.detail_id: str | None = None
        self._badge = ""
        self._pin = ""
        self._focus: Literal["badge", "pin"] = "badge"
        self._login_msg = ("", False)
        self._busy = False
        self._feedback: FeedbackVM | None = None
        self._feedback_serial = 0
        self._notices: list[Notice] = []
        self._listeners: list[Callable[[ViewModel], None]] = []
        self._unsubscribe = board.subscribe(self._on_board_change)

    # -- observers ------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[ViewModel], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def close(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    def changed(self) -> None:
        """Tell the screens to redraw (also called by the core when the link goes on/offline)."""
        vm = self.view()
        for callback in list(self._listeners):
            callback(vm)

    def _on_board_change(self, change: Any) -> None:
        self._notices.extend(self.board.take_notices())
        if self.detail_id and not self._shown(self.detail_id):
            self.detail_id = None  # withdrawn by the platform while the driver looked at it
            if self.screen in ("detail", "exception"):
                self.screen = "tasks"
        if self.board.driver is None and self.screen != "login":
            self.screen = "login"
        self.changed()

    def _shown(self, task_id: str) -> bool:
        """Whether a task is still the driver's (the platform may withdraw it at any time)."""
        view = self.board.task(task_id)
        return view is not None and view.state not in WITHDRAWN

    # -- intents: language, login ---------------------------------------------------------
    def switch_language(self) -> None:
        self.lang = LANGS[(LANGS.index(self.lang) + 1) % len(LANGS)]
        self.changed()

    def focus(self, field: Literal["badge", "pin"]) -> None:
        self._focus = field
        self.changed()

    def key(self, digit: str) -> None:
        """A key of the on-screen pad, into the focused field."""
        if not (len(digit) == 1 and digit.isdigit()):
            raise ValueError(f"not a pad digit: {digit!r}")
        if self._focus == "badge":
            self._badge = (self._badge + digit)[:64]
        else:
            self._pin = (self._pin + digit)[:PIN_MAX]
        self.changed()

    def backspace(self) -> None:
        if self._focus == "badge":
            self._badge = self._badge[:-1]
        else:
            self._pin = self._pin[:-1]
        self.changed()

    def clear_login(self) -> None:
        self._badge, self._pin, self._focus, self._login_msg = "", "", "badge", ("", False)
        self.changed()

    async def login(self) -> LoginResult | None:
        if self._busy:
            return None
        if not self._badge:
            self._login_msg = (t("login.need_badge", self.lang), True)
            self.changed()
            return None
        if len(self._pin) < 4:
            self._login_msg = (t("login.need_pin", self.lang), True)
            self._focus = "pin"
            self.changed()
            return None
        self._busy, self._login_msg = True, (t("login.busy", self.lang), False)
        self.changed()
        try:
            result: LoginResult = await self.board.login(self._badge, self._pin)
        finally:
            self._busy = False
        self._pin = ""
        if result.ok:
            self._badge, self._focus, self._login_msg = "", "badge", ("", False)
            self.screen = "tasks"
        else:
            self._login_msg = (t("login.failed", self.lang, reason=self._msg(result)), True)
            self._focus = "pin"
        self.changed()
        return result

    async def logout(self) -> None:
        await self.board.logout()
        self.screen, self.detail_id, self._feedback = "login", None, None
        self.changed()

    # -- intents: tasks ---------------------------------------------------------------------
    def open_task(self, task_id: str) -> None:
        view = self.board.task(task_id)
        if view is None:
            return
        if view.state in WORKING and (self.board.active is None or self.board.active.task_id != task_id):
            self._show(self.board.select(task_id), quiet_ok=True)  # scans now apply to this one
        self.detail_id, self.screen = task_id, "detail"
        self.changed()

    def back(self) -> None:
        self.screen = "detail" if self.screen == "exception" else "tasks"
        self.changed()

    async def accept(self) -> ScanResult | None:
        if self.detail_id is None:
            return None
        return self._show(await self.board.accept(self.detail_id))

    async def complete(self) -> ScanResult:
        result = await self.board.complete()
        if result.ok:
            self.screen, self.detail_id = "tasks", None  # done: back to what is left to do
        return self._show(result)

    def open_exception(self) -> None:
        if self.detail_id is not None:
            self.screen, self._feedback = "exception", None  # the driver has moved on from the last answer
            self.changed()

    async def report_exception(self, reason: str, note: str = "") -> ScanResult:
        if reason not in REASONS:
            raise ValueError(f"unknown exception reason {reason!r}")
        result = await self.board.report_exception(reason, note)
        if result.ok:
            self.screen = "detail"
        return self._show(result)

    async def scan(self, text: str, source: str = "wedge") -> ScanResult | None:
        """A barcode from the wedge or a serial scanner: a badge on the login screen, else a
        label for the active task. Answers right/wrong at once."""
        text = text.strip()
        if not text:
            return None
        if self.screen == "login" or self.board.driver is None:
            self._badge, self._focus, self._login_msg = text[:64], "pin", ("", False)
            self.changed()
            return None
        log.debug("scan from %s: %r", source, text)
        result = await self.board.scan(text)
        if result.task_id and self._shown(result.task_id):
            self.detail_id = result.task_id
            if self.screen != "exception":
                self.screen = "detail"
        return self._show(result, scanned=text[:64])

    def dismiss_feedback(self) -> None:
        if self._feedback is not None:
            self._feedback = None
            self.changed()

    def dismiss_notice(self) -> None:
        if self._notices:
            self._notices.pop(0)
            self.changed()

    # -- view models ----------------------------------------------------------------------
    def _msg(self, result: ScanResult | LoginResult) -> str:
        return result.message_zh if self.lang == "zh" else result.message_en

    def _show(self, result: ScanResult, quiet_ok: bool = False, scanned: str = "") -> ScanResult:
        if inspect.isawaitable(result):  # pragma: no cover - guards a sync/async API mix-up
            raise TypeError("board answered with an awaitable where a result was expected")
        if not (quiet_ok and result.ok):
            self._feedback_serial += 1
            self._feedback = FeedbackVM(
                ok=result.ok, headline=both("feedback.right" if result.ok else "feedback.wrong"),
                message=self._msg(result) + (f"\n{scanned}" if scanned and not result.ok else ""),
                serial=self._feedback_serial,
                auto_dismiss_s=1.5 if result.ok else None)
        self.changed()
        return result

    def _time(self, when: datetime) -> str:
        return when.astimezone(self.tz).strftime("%H:%M")

    def view(self) -> ViewModel:
        lang = self.lang
        driver = self.board.driver
        waiting = int(self._waiting())
        online = bool(self._online())
        status = StatusVM(
            online=online, online_text=t("status.online" if online else "status.offline", lang),
            waiting=waiting, waiting_text=t("status.waiting", lang, n=waiting),
            driver_text=(driver.name or driver.badge) if driver else t("status.no_driver", lang),
            lang_button=t("lang.switch", lang))
        login = LoginVM(
            title=t("login.title", lang), badge_label=t("login.badge", lang), badge=self._badge,
            pin_label=t("login.pin", lang), pin_mask="●" * len(self._pin), focus=self._focus,
            hint=t("login.hint", lang), message=self._login_msg[0], message_is_error=self._login_msg[1],
            busy=self._busy, ok_text=t("login.ok", lang), clear_text=t("login.clear", lang))
        views = self.board.tasks() if driver else []
        active = self.board.active.task_id if driver and self.board.active else None
        tasks = TaskListVM(
            title=t("list.title", lang, n=len(views)), rows=tuple(self._row(v, active) for v in views),
            empty_text=t("list.empty", lang), logout_text=t("logout", lang))
        detail_view = self.board.task(self.detail_id) if self.detail_id and driver and self._shown(self.detail_id) else None
        detail = self._detail(detail_view, active) if detail_view else None
        screen = self.screen
        if screen in ("detail", "exception") and detail is None:
            screen = "tasks"
        exception = ExceptionVM(title=t("exception.title", lang),
                                reasons=tuple((r, t(f"reason.{r}", lang)) for r in REASONS),
                                cancel_text=t("exception.cancel", lang))
        notice = None
        if self._notices:
            n = self._notices[0]
            key = {"notice_reassigned": "notice.reassigned", "notice_assigned": "notice.assigned"}.get(
                n.code, "notice.cancelled")
            text = t(key, lang, task=n.task_id) + (f"\n{n.note}" if n.note else "")
            notice = NoticeVM(text=text, ok_text=t("notice.ok", lang))
        feedback = self._feedback
        return ViewModel(screen=screen, lang=lang, status=status, login=login, tasks=tasks, detail=detail,
                         exception=exception, feedback=feedback, notice=notice)

    def _row(self, v: TaskView, active: str | None) -> TaskRowVM:
        lang, task = self.lang, v.task
        return TaskRowVM(
            task_id=task.task_id, title=f"{t(f'kind.{task.kind}', lang)} · {task.task_id}",
            route=f"{task.source_location} → {task.destination}",
            due_text=t("list.due", lang, t=self._time(task.due_by)), overdue=v.overdue,
            overdue_text=t("list.overdue", lang) if v.overdue else "",
            pieces_text=t("list.pieces", lang, n=task.pieces), state_text=t(f"state.{v.state}", lang),
            active=task.task_id == active)

    def _detail(self, v: TaskView, active: str | None) -> DetailVM:
        lang, task = self.lang, v.task
        info = []
        if task.awb:
            info.append(t("detail.awb", lang, awb=task.awb))
        if task.customs_ref:
            info.append(t("detail.customs", lang, ref=task.customs_ref))
        if task.notes:
            info.append(task.notes)
        is_active = task.task_id == active
        return DetailVM(
            task_id=task.task_id, title=f"{t(f'kind.{task.kind}', lang)} · {task.task_id}",
            state=v.state, state_text=t(f"state.{v.state}", lang),
            from_label=t("detail.from", lang), source=task.source_location,
            to_label=t("detail.to", lang), destination=task.destination,
            due_text=t("detail.due", lang, t=self._time(task.due_by)), overdue=v.overdue,
            pieces_title=t("detail.pieces", lang, picked=min(v.picked_count, task.pieces), total=task.pieces),
            pieces=_pieces(v, lang), info=tuple(info), next_text=t(_next_step(v.state), lang),
            can_accept=v.state == "ASSIGNED", can_complete=v.state == "DELIVERED" and is_active,
            can_report=v.state in WORKING and is_active,
            accept_text=t("detail.accept", lang), complete_text=t("next.done", lang),
            report_text=t("detail.exception", lang), back_text=t("detail.back", lang))


def _next_step(state: str) -> str:
    return {"ASSIGNED": "next.accept", "ACCEPTED": "next.source", "AT_SOURCE": "next.piece",
            "PICKED": "next.destination", "DELIVERED": "next.done", "COMPLETED": "next.done",
            "EXCEPTION": "next.exception"}.get(state, "next.closed")


def _pieces(v: TaskView, lang: Lang) -> tuple[PieceVM, ...]:
    """One row per expected piece, ticked when scanned. Labelled pieces are ticked by their
    key (as the board reads labels); AWB pieces by number ("...-002"), and bare AWB scans
    (every piece the same code) fill the remaining rows in order."""
    task = v.task
    if task.pieces > MAX_PIECE_ROWS:
        return ()
    picked = set(v.picked)
    labels = list(task.piece_labels)[: task.pieces]
    rows = []
    for i in range(task.pieces):
        if i < len(labels):
            rows.append(PieceVM(labels[i], read_piece(labels[i]).key in picked))
        else:
            numbered = task.awb is not None and f"awb:{task.awb}-{i + 1:03d}" in picked
            rows.append(PieceVM(t("detail.piece_n", lang, n=i + 1), numbered))
    bare = v.picked_count - sum(r.done for r in rows)
    for i, row in enumerate(rows):
        if bare > 0 and not row.done and i >= len(labels):
            rows[i] = replace(row, done=True)
            bare -= 1
    return tuple(rows)
