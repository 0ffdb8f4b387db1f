"""What the screens draw: immutable view models, already in the driver's language. Pure data.

Equal view models draw the same widgets, so a screen compares the part it shows with the part
it drew last and touches nothing when they are equal (see pda_app/screens.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pda_app.i18n import Lang

Screen = Literal["login", "tasks", "detail", "exception"]
Pad = Literal["digits", "letters"]


@dataclass(frozen=True)
class StatusVM:
    reach: str  # pda_app.connectivity.Reach value: online | platform_silent | offline
    reach_text: str
    waiting: int
    waiting_text: str
    contact_text: str  # age of the last platform contact
    driver_text: str
    lang_button: str

    @property
    def online(self) -> bool:
        return self.reach == "online"


@dataclass(frozen=True)
class LoginVM:
    title: str
    badge_label: str
    badge: str
    pin_label: str
    pin_mask: str
    focus: Literal["badge", "pin"]
    pad: Pad
    pad_toggle_text: str  # the key that switches the pad (ABC <-> 123); badge only
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
    source: str
    destination: str
    target_label: str  # where the driver goes next: drawn largest
    target: str
    other_label: str  # the other end of the move, small
    other: str
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
    """The answer to a scan (never to a button: right/wrong means "this barcode")."""

    ok: bool
    headline: str  # both languages: understood at a glance whichever is chosen
    message: str
    scanned_text: str  # wrong answers: what was scanned ...
    expected_text: str  # ... what this step wants instead ...
    continue_text: str  # ... and how to go on
    serial: int  # grows with every new answer, so the UI beeps once per answer
    auto_dismiss_s: float | None  # a wrong answer stays until the driver taps or scans again


@dataclass(frozen=True)
class NoticeVM:
    text: str
    ok_text: str


@dataclass(frozen=True)
class ConfirmVM:
    """A destructive action waits for a second tap."""

    kind: Literal["logout", "report", "discard"]
    question: str
    yes_text: str
    no_text: str


@dataclass(frozen=True)
class ExceptionVM:
    title: str
    reasons: tuple[tuple[str, str], ...]
    cancel_text: str
    note_hint: str


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
    confirm: ConfirmVM | None
