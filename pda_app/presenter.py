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
from typing import Any, Literal, get_args

from agent.contract.tasks import ExceptionReason
from agent.tasks.scans import read_piece
from agent.tasks.table import WORKING
from agent.tasks.views import LoginResult, Notice, ScanResult, TaskView
from pda_app.connectivity import Connectivity, LinkState, Reach
from pda_app.i18n import LANGS, Lang, both, platform_text, t
from pda_app.viewmodels import (
    ConfirmVM,
    DetailVM,
    ExceptionVM,
    FeedbackVM,
    LoginVM,
    NoticeVM,
    Pad,
    PieceVM,
    Screen,
    StatusVM,
    TaskListVM,
    TaskRowVM,
    ViewModel,
)

log = logging.getLogger(__name__)

__all__ = ["Presenter", "ViewModel", "REASONS"]

#: the exception reasons the contract allows, in the order the screen lists them
REASONS: tuple[str, ...] = get_args(ExceptionReason)
WITHDRAWN = frozenset({"CANCELLED", "REASSIGNED"})
MAX_PIECE_ROWS = 10  # beyond this the detail screen shows the count only
PIN_MAX = 12
BADGE_MAX = 64
BADGE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
#: login answers that mean the platform was not reached (the board fell back to its cache)
UNANSWERED = frozenset({"login_unknown_offline", "login_expired", "login_locked"})
HEADING_TO_DESTINATION = frozenset({"PICKED", "DELIVERED", "COMPLETED"})


@dataclass(frozen=True)
class _Pending:
    """A destructive action waiting for its confirm."""

    kind: Literal["logout", "report", "discard"]
    reason: str = ""


class Presenter:
    def __init__(self, board: Any, *, link: Connectivity | None = None, lang: Lang = "zh", tz: tzinfo | None = None):
        self.board = board
        self.link = link or Connectivity()
        self.lang: Lang = lang
        self.tz = tz
        self.screen: Screen = "tasks" if board.driver else "login"
        self.detail_id: str | None = None
        self._badge = ""
        self._pin = ""
        self._focus: Literal["badge", "pin"] = "badge"
        self._pad: Pad = "digits"
        self._login_msg = ("", False)
        self._busy = False
        self._feedback: FeedbackVM | None = None
        self._feedback_serial = 0
        self._notices: list[Notice | ScanResult] = []  # the platform's, then refused actions
        self._pending: _Pending | None = None
        self._note = ""
        self._listeners: list[Callable[[ViewModel], None]] = []
        self._board_version = 0
        self._board_cache: tuple[tuple, tuple[Any, TaskListVM, DetailVM | None]] | None = None
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
        """Tell the screens to redraw (also called by the core when the connectivity changes)."""
        vm = self.view()
        for callback in list(self._listeners):
            callback(vm)

    def _on_board_change(self, change: Any) -> None:
        self._board_version += 1
        self._notices.extend(self.board.take_notices())
        if self.detail_id and not self._shown(self.detail_id):
            self.detail_id = None  # withdrawn by the platform while the driver looked at it
            if self.screen in ("detail", "exception"):
                self.screen = "tasks"
                if self._pending and self._pending.kind != "logout":
                    self._pending = None
        if self.board.driver is None and self.screen != "login":
            self.screen, self._pending = "login", None
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
        if field == "pin":
            self._pad = "digits"
        self.changed()

    def toggle_pad(self) -> None:
        """ABC <-> 123 on the login pad: badges such as "D0001" have letters; PINs never do."""
        if self._focus == "badge":
            self._pad = "letters" if self._pad == "digits" else "digits"
            self.changed()

    def key(self, char: str) -> None:
        """A key of the on-screen pad, into the focused field."""
        char = char.upper()
        if not (len(char) == 1 and char in BADGE_CHARS):
            raise ValueError(f"not a pad key: {char!r}")
        if self._focus == "badge":
            self._badge = (self._badge + char)[:BADGE_MAX]
        elif char.isdigit():
            self._pin = (self._pin + char)[:PIN_MAX]
        else:
            self._login_msg = (t("login.pin_digits", self.lang), True)
        self.changed()

    def backspace(self) -> None:
        if self._focus == "badge":
            self._badge = self._badge[:-1]
        else:
            self._pin = self._pin[:-1]
        self.changed()

    def clear_login(self) -> None:
        self._badge, self._pin, self._focus, self._pad, self._login_msg = "", "", "badge", "digits", ("", False)
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
            self._focus, self._pad = "pin", "digits"
            self.changed()
            return None
        self._busy, self._login_msg = True, (t("login.busy", self.lang), False)
        self.changed()
        try:
            result: LoginResult = await self.board.login(self._badge, self._pin)
        finally:
            self._busy = False
        self._pin = ""
        if result.code in UNANSWERED or result.offline:
            self.link.platform_unanswered()  # the bar and the login message now agree
        else:
            self.link.heard_platform()
        if result.ok:
            self._badge, self._focus, self._pad, self._login_msg = "", "badge", "digits", ("", False)
            self.screen = "tasks"
        elif result.code in UNANSWERED:  # said in the status bar's words: one connectivity state
            reach = self._status(self.link.snapshot(), None).reach_text
            self._login_msg = (t(f"login.{result.code}", self.lang, reach=reach), True)
            self._focus, self._pad = "pin", "digits"
        else:
            self._login_msg = (t("login.failed", self.lang, reason=self._msg(result)), True)
            self._focus, self._pad = "pin", "digits"
        self.changed()
        return result

    def ask_logout(self) -> None:
        self._pending = _Pending("logout")
        self.changed()

    async def logout(self) -> None:
        await self.board.logout()
        self.screen, self.detail_id, self._feedback, self._pending = "login", None, None, None
        self.changed()

    # -- intents: confirms ----------------------------------------------------------------
    async def confirm_yes(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if pending.kind == "logout":
            await self.logout()
        elif pending.kind == "report":
            await self.report_exception(pending.reason, self._note)
        else:
            self._note = ""
            self.back()

    def confirm_no(self) -> None:
        if self._pending is not None:
            self._pending = None
            self.changed()

    # -- intents: tasks ---------------------------------------------------------------------
    def open_task(self, task_id: str) -> None:
        view = self.board.task(task_id)
        if view is None:
            return
        if view.state in WORKING and (self.board.active is None or self.board.active.task_id != task_id):
            self._answer(self.board.select(task_id))  # scans now apply to this one
        self.detail_id, self.screen = task_id, "detail"
        self.changed()

    def back(self) -> None:
        if self.screen == "exception" and self._note.strip():
            self._pending = _Pending("discard")  # the typed note would be lost
            self.changed()
            return
        self.screen = "detail" if self.screen == "exception" else "tasks"
        self.changed()

    async def accept(self) -> ScanResult | None:
        if self.detail_id is None:
            return None
        return self._answer(await self.board.accept(self.detail_id))

    async def complete(self) -> ScanResult:
        result = await self.board.complete()
        if result.ok:
            self.screen, self.detail_id = "tasks", None  # done: back to what is left to do
        return self._answer(result)

    def open_exception(self) -> None:
        if self.detail_id is not None:
            self.screen, self._feedback, self._note = "exception", None, ""
            self.changed()

    def set_note(self, text: str) -> None:
        """The driver typed in the exception dialog's note field (kept for "other")."""
        self._note = text[:500]

    def choose_reason(self, reason: str) -> None:
        """A reason button: reported only after the confirm."""
        if reason not in REASONS:
            raise ValueError(f"unknown exception reason {reason!r}")
        self._pending = _Pending("report", reason)
        self.changed()

    async def report_exception(self, reason: str, note: str = "") -> ScanResult:
        if reason not in REASONS:
            raise ValueError(f"unknown exception reason {reason!r}")
        result = await self.board.report_exception(reason, note)
        if result.ok:
            self.screen, self._note = "detail", ""
        return self._answer(result)

    async def scan(self, text: str, source: str = "wedge") -> ScanResult | None:
        """A barcode from the wedge or a serial scanner: a badge on the login screen, else a
        label for the active task. Answers right/wrong at once; a new scan replaces the last
        answer, so a driver never has to put the scanner down to dismiss a wrong one."""
        text = text.strip()
        if not text:
            return None
        if self.screen == "login" or self.board.driver is None:
            self._badge, self._focus, self._pad, self._login_msg = text[:BADGE_MAX], "pin", "digits", ("", False)
            self.changed()
            return None
        log.debug("scan from %s: %r", source, text)
        result = await self.board.scan(text)
        if inspect.isawaitable(result):  # pragma: no cover - guards a sync/async API mix-up
            raise TypeError("board answered with an awaitable where a result was expected")
        if result.task_id and self._shown(result.task_id):
            self.detail_id = result.task_id
            if self.screen != "exception":
                self.screen = "detail"
        self._feedback_serial += 1
        self._feedback = FeedbackVM(
            ok=result.ok, headline=both("feedback.right" if result.ok else "feedback.wrong"),
            message=self._msg(result),
            scanned_text=f"{t('feedback.scanned', self.lang)}: {text[:64]}",  # each answer visibly its own
            expected_text="" if result.ok else f"{t('feedback.expected', self.lang)}: {self._expected(result)}",
            continue_text="" if result.ok else t("feedback.continue", self.lang),
            serial=self._feedback_serial, auto_dismiss_s=1.5 if result.ok else None)
        self.changed()
        return result

    def dismiss_feedback(self) -> None:
        if self._feedback is not None:
            self._feedback = None
            self.changed()

    def dismiss_notice(self) -> None:
        if self._notices and self.screen != "login":
            self._notices.pop(0)
            self.changed()

    # -- view models ----------------------------------------------------------------------
    def _msg(self, result: ScanResult | LoginResult) -> str:
        return result.message_zh if self.lang == "zh" else result.message_en

    def _answer(self, result: ScanResult) -> ScanResult:
        """A button's outcome: the screen shows a success (the task moved on); a refusal
        becomes a notice. Never the right/wrong overlay, which answers scans only."""
        if not result.ok:
            self._notices.append(result)
        self.changed()
        return result

    def _expected(self, result: ScanResult) -> str:
        """What the task's current step wants scanned, for a wrong answer."""
        lang = self.lang
        view = self.board.task(result.task_id) if result.task_id else self.board.active
        if view is None:
            return t("expect.choose_task", lang)
        task, state = view.task, view.state
        if state == "ASSIGNED":
            return t("expect.accept", lang)
        if state == "ACCEPTED":
            return t("expect.source", lang, loc=task.source_location)
        if state == "AT_SOURCE" and view.picked_count < task.pieces:
            picked = set(view.picked)
            left = [x for x in task.piece_labels if read_piece(x).key not in picked]
            if left:
                return t("expect.labels", lang, labels=", ".join(left[:2]) + (" …" if len(left) > 2 else ""))
            return t("expect.awb", lang, awb=task.awb or task.task_id)
        if state in ("AT_SOURCE", "PICKED"):
            return t("expect.destination", lang, loc=task.destination)
        if state == "DELIVERED":
            return t("expect.complete", lang)
        return t(f"state.{state}", lang)

    def _time(self, when: datetime) -> str:
        return when.astimezone(self.tz).strftime("%H:%M")

    def _status(self, link: LinkState, driver: Any) -> StatusVM:
        lang = self.lang
        reach_key = {Reach.ONLINE: "status.online", Reach.PLATFORM_SILENT: "status.platform_silent",
                     Reach.OFFLINE: "status.offline"}[link.reach]
        return StatusVM(
            reach=str(link.reach), reach_text=t(reach_key, lang),
            waiting=link.waiting, waiting_text=t("status.waiting", lang, n=link.waiting),
            contact_text=contact_text(link.contact_age_s, lang),
            driver_text=(driver.name or driver.badge) if driver else t("status.no_driver", lang),
            lang_button=t("lang.switch", lang))

    def _notice(self) -> NoticeVM | None:
        if not self._notices or self.screen == "login":
            return None  # kept for the driver who logs in; they would only cover the pad
        lang, n = self.lang, self._notices[0]
        if isinstance(n, ScanResult):
            text = self._msg(n)
        else:
            key = {"notice_reassigned": "notice.reassigned", "notice_assigned": "notice.assigned"}.get(
                n.code, "notice.cancelled")
            text = t(key, lang, task=n.task_id) + (f"\n{platform_text(n.note, lang)}" if n.note else "")
        return NoticeVM(text=text, ok_text=t("notice.ok", lang))

    def _confirm(self) -> ConfirmVM | None:
        pending, lang = self._pending, self.lang
        if pending is None:
            return None
        if pending.kind == "report":
            question = t("confirm.report", lang, reason=t(f"reason.{pending.reason}", lang))
        else:
            question = t(f"confirm.{pending.kind}", lang)
        return ConfirmVM(kind=pending.kind, question=question, yes_text=t(f"confirm.yes_{pending.kind}", lang),
                         no_text=t("confirm.no", lang))

    def _board_part(self) -> tuple[Any, TaskListVM, DetailVM | None]:
        """The list and the detail, read from the board only when it may have changed: after a
        board change, a language switch, another task opened, or a new minute (overdue). A scan
        answer, a key on the pad or a notice redraws without reading SQLite again."""
        key = (self._board_version, self.lang, self.detail_id, int(self.link.now() // 60))
        if self._board_cache is not None and self._board_cache[0] == key:
            return self._board_cache[1]
        lang = self.lang
        driver = self.board.driver
        views = self.board.tasks() if driver else []
        active_view = self.board.active if driver else None
        active = active_view.task_id if active_view else None
        tasks = TaskListVM(
            title=t("list.title", lang, n=len(views)), rows=tuple(self._row(v, active) for v in views),
            empty_text=t("list.empty", lang), logout_text=t("logout", lang))
        detail_view = next((v for v in views if v.task_id == self.detail_id), None) if self.detail_id else None
        if detail_view is None and self.detail_id and driver and self._shown(self.detail_id):
            detail_view = self.board.task(self.detail_id)  # shown, but not in the list (completed)
        detail = self._detail(detail_view, active) if detail_view else None
        self._board_cache = (key, (driver, tasks, detail))
        return driver, tasks, detail

    def view(self) -> ViewModel:
        lang = self.lang
        driver, tasks, detail = self._board_part()
        link = self.link.snapshot()
        hint_key = {Reach.ONLINE: "login.hint", Reach.PLATFORM_SILENT: "login.hint_silent",
                    Reach.OFFLINE: "login.hint_offline"}[link.reach]
        login = LoginVM(
            title=t("login.title", lang), badge_label=t("login.badge", lang), badge=self._badge,
            pin_label=t("login.pin", lang), pin_mask="●" * len(self._pin), focus=self._focus, pad=self._pad,
            pad_toggle_text=t("login.pad_digits" if self._pad == "letters" else "login.pad_letters", lang),
            hint=t(hint_key, lang), message=self._login_msg[0], message_is_error=self._login_msg[1],
            busy=self._busy, ok_text=t("login.ok", lang), clear_text=t("login.clear", lang))
        screen = self.screen
        if screen in ("detail", "exception") and detail is None:
            screen = "tasks"
        exception = ExceptionVM(title=t("exception.title", lang),
                                reasons=tuple((r, t(f"reason.{r}", lang)) for r in REASONS),
                                cancel_text=t("exception.cancel", lang), note_hint=t("reason.other", lang) + " …")
        return ViewModel(screen=screen, lang=lang, status=self._status(link, driver), login=login, tasks=tasks,
                         detail=detail, exception=exception, feedback=self._feedback, notice=self._notice(),
                         confirm=self._confirm())

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
        to_destination = v.state in HEADING_TO_DESTINATION
        source = (t("detail.go_source", lang), t("detail.from", lang), task.source_location)
        dest = (t("detail.go_destination", lang), t("detail.to", lang), task.destination)
        (target_label, _, target), (_, other_label, other) = (dest, source) if to_destination else (source, dest)
        return DetailVM(
            task_id=task.task_id, title=f"{t(f'kind.{task.kind}', lang)} · {task.task_id}",
            state=v.state, state_text=t(f"state.{v.state}", lang),
            source=task.source_location, destination=task.destination,
            target_label=target_label, target=target,
            other_label=other_label, other=other,
            due_text=t("detail.due", lang, t=self._time(task.due_by)), overdue=v.overdue,
            pieces_title=t("detail.pieces", lang, picked=min(v.picked_count, task.pieces), total=task.pieces),
            pieces=_pieces(v, lang), info=tuple(info), next_text=t(_next_step(v.state), lang),
            can_accept=v.state == "ASSIGNED", can_complete=v.state == "DELIVERED" and is_active,
            can_report=v.state in WORKING and is_active,
            accept_text=t("detail.accept", lang), complete_text=t("detail.complete", lang),
            report_text=t("detail.exception", lang), back_text=t("detail.back", lang))


def contact_text(age_s: float | None, lang: Lang) -> str:
    """The age of the last platform contact, in steps a driver can read at a glance (it changes
    at most once a minute, so the bar is not redrawn every second)."""
    if age_s is None:
        return t("status.contact_never", lang)
    if age_s < 60:
        return t("status.contact_now", lang)
    if age_s < 3600:
        return t("status.contact_min", lang, n=int(age_s // 60))
    return t("status.contact_h", lang, n=min(int(age_s // 3600), 99))


def _next_step(state: str) -> str:
    return {"ASSIGNED": "next.accept", "ACCEPTED": "next.source", "AT_SOURCE": "next.piece",
            "PICKED": "next.destination", "DELIVERED": "next.confirm", "COMPLETED": "next.done",
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
