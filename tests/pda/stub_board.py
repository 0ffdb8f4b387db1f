"""An in-memory stand-in with the task board's public API (agent/tasks/board.py), for the
presenter's unit tests: the presenter is tested alone, at the board seam. It follows the
board's documented answers (codes from agent.tasks.messages) but none of its persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.contract.tasks import Task
from agent.tasks.views import BoardChange, DriverView, LoginResult, Notice, ScanResult, TaskView

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def task(task_id="T-1", pieces=2, labels=(), due_min=30, priority=5, **kw) -> Task:
    return Task(task_id=task_id, kind=kw.pop("kind", "TO_INSPECTION"), priority=priority,
                due_by=T0 + timedelta(minutes=due_min), awb=kw.pop("awb", "17612345675"), pieces=pieces,
                piece_labels=list(labels), source_location=kw.pop("source", "A-01-03"),
                destination=kw.pop("destination", "BAY-2"), **kw)


class StubBoard:
    def __init__(self, tasks=(), now=T0):
        self.now = now
        self._tasks = {t.task_id: [t, "ASSIGNED", ()] for t in tasks}
        self.active_id = None
        self.driver = None
        self._observers = []
        self._notices = []
        self.calls = []

    def _view(self, tid):
        t, state, picked = self._tasks[tid]
        return TaskView(t, state, picked, overdue=t.due_by < self.now)

    def tasks(self):
        return sorted((self._view(k) for k in self._tasks), key=lambda v: (not v.overdue, v.task.priority, v.task.due_by))

    def task(self, tid):
        return self._view(tid) if tid in self._tasks else None

    @property
    def active(self):
        return self.task(self.active_id) if self.active_id else None

    def unsent(self):
        return 3

    def subscribe(self, cb):
        self._observers.append(cb)
        return lambda: self._observers.remove(cb)

    def take_notices(self):
        out, self._notices = self._notices, []
        return out

    def _changed(self, tid=None):
        for cb in list(self._observers):
            cb(BoardChange(tid))

    def withdraw(self, tid, code="notice_cancelled"):
        del self._tasks[tid]
        if self.active_id == tid:
            self.active_id = None
        self._notices.append(Notice(tid, code, "任务已取消", "Task cancelled"))
        self._changed(tid)

    async def login(self, badge, pin):
        self.calls.append(("login", badge, pin))
        if pin != "1234":
            return LoginResult.of(False, "login_refused")
        self.driver = DriverView(badge, "王师傅", self.now, offline=False)
        self._changed()
        return LoginResult.of(True, "login_ok", self.driver)

    async def logout(self):
        self.driver = None
        self._changed()

    async def accept(self, tid):
        self._tasks[tid][1] = "ACCEPTED"
        self.active_id = tid
        self._changed(tid)
        return ScanResult.of(True, "ok_accepted", tid, "ACCEPTED")

    def select(self, tid):
        self.active_id = tid
        return ScanResult.of(True, "ok_selected", tid, self._tasks[tid][1])

    async def scan(self, text):
        self.calls.append(("scan", text))
        if self.active_id is None:
            return ScanResult.of(False, "no_active_task")
        entry = self._tasks[self.active_id]
        t, state, picked = entry
        tid = t.task_id
        if state == "ACCEPTED":
            if text != t.source_location:
                return ScanResult.of(False, "wrong_location", tid, state)
            entry[1] = "AT_SOURCE"
            code = "ok_at_source"
        elif state == "AT_SOURCE":
            if text in picked:
                return ScanResult.of(False, "duplicate_piece", tid, state)
            entry[2] = picked + (text,)
            if len(entry[2]) == t.pieces:
                entry[1] = "PICKED"
            code = "ok_picked" if entry[1] == "PICKED" else "ok_piece"
        elif state == "PICKED":
            if text != t.destination:
                return ScanResult.of(False, "wrong_destination", tid, state)
            entry[1] = "DELIVERED"
            code = "ok_delivered"
        else:
            return ScanResult.of(False, "wrong_state", tid, state)
        self._changed(tid)
        return ScanResult.of(True, code, tid, entry[1], len(entry[2]), t.pieces)

    async def complete(self):
        self._tasks[self.active_id][1] = "COMPLETED"
        self._changed(self.active_id)
        return ScanResult.of(True, "ok_completed", self.active_id, "COMPLETED")

    async def report_exception(self, reason, text=""):
        self.calls.append(("exception", reason, text))
        self._tasks[self.active_id][1] = "EXCEPTION"
        self._changed(self.active_id)
        return ScanResult.of(True, "ok_exception", self.active_id, "EXCEPTION")
