"""What the task board hands out: immutable answers and snapshots for a UI presenter.

Nothing here touches SQLite, the clock or the link; these are values. They must never hold a
reference into the board's own state (a presenter may keep them as long as it likes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agent.contract.tasks import Task
from agent.tasks.messages import text
from agent.tasks.table import State


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The instant right/wrong answer to a scan or a driver action.

    `ok` False means nothing advanced; `code` is a key of `agent.tasks.messages.MESSAGES`.
    `task_id`/`state` describe the task the scan was applied to (None when there is none).
    """

    ok: bool
    code: str
    message_zh: str
    message_en: str
    task_id: str | None = None
    state: State | None = None
    picked: int = 0
    pieces: int = 0
    detail: str = ""

    @classmethod
    def of(cls, ok: bool, code: str, task_id: str | None = None, state: State | None = None,
           picked: int = 0, pieces: int = 0, detail: str = "") -> ScanResult:
        zh, en = text(code)
        return cls(ok, code, zh, en, task_id, state, picked, pieces, detail)


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task as the driver's list and the detail screen show it."""

    task: Task
    state: State
    picked: tuple[str, ...]  # piece keys scanned so far, in scan order
    overdue: bool
    exception: str | None = None
    note: str = ""

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def picked_count(self) -> int:
        return len(self.picked)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the platform did to the driver's list (a task withdrawn or a new one)."""

    task_id: str
    code: str  # notice_cancelled | notice_reassigned | notice_assigned
    message_zh: str
    message_en: str
    note: str = ""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DriverView:
    badge: str
    name: str
    since: datetime
    offline: bool  # True when the PIN was checked against the local cache


@dataclass(frozen=True, slots=True)
class LoginResult:
    ok: bool
    code: str
    message_zh: str
    message_en: str
    driver: DriverView | None = None
    offline: bool = False

    @classmethod
    def of(cls, ok: bool, code: str, driver: DriverView | None = None, offline: bool = False) -> LoginResult:
        zh, en = text(code)
        return cls(ok, code, zh, en, driver, offline)


@dataclass(frozen=True, slots=True)
class BoardChange:
    """Passed to observers after any change: which task (None = the session or whole list)."""

    task_id: str | None
    state: State | None = None
    notices: tuple[Notice, ...] = field(default_factory=tuple)
