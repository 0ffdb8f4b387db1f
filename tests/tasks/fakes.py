"""Fakes at the task board's seams: a Recorder that keeps what it is given, a Requester that
plays the platform's driver_login, and a builder for platform commands."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from agent.clock import FakeClock
from agent.config.model import PdaSection
from agent.contract.envelope import Command, Envelope, ErrorBody, Response, new_id
from agent.contract.tasks import DriverLoginAnswer, Task, TaskCancel, TaskUpdate
from agent.errors import RequestTimeoutError, StorageFullError
from agent.tasks import Board

AWB = "17612345675"  # serial 1234567 % 7 == 5
SSCCS = ["376123450000000016", "376123450000000023", "376123450000000030"]


class RecordingRecorder:
    """Keeps every record in order; `full = True` makes it refuse like a full outbox."""

    def __init__(self) -> None:
        self.records: list[tuple[str, BaseModel, str]] = []
        self.full = False

    async def record(self, type: str, body: BaseModel, priority: str = "transactional") -> Envelope:
        if self.full:
            raise StorageFullError("transactional cap reached")
        self.records.append((type, body, priority))
        return Envelope(node="pda-1", seq=len(self.records), type=type, body=body)

    @property
    def updates(self) -> list[TaskUpdate]:
        return [body for type, body, _ in self.records if type == "task_update"]

    def states(self, task_id: str | None = None) -> list[str]:
        return [u.state for u in self.updates if task_id is None or u.task_id == task_id]


class FakePlatform:
    """Answers req/driver_login from a badge -> (pin, name) table; `down = True` times out."""

    def __init__(self, drivers: dict[str, tuple[str, str]]):
        self.drivers = drivers
        self.down = False
        self.error = False
        self.asked: list[tuple[str, BaseModel]] = []

    async def request(self, name: str, body: Any, timeout: float) -> Response:
        self.asked.append((name, body))
        if self.down:
            raise RequestTimeoutError(f"no answer to {name} in {timeout} s")
        if self.error:
            return Response(node="platform", type=name, correlation_id="c", ok=False,
                            error=ErrorBody(code="internal", reason="database down"))
        known = self.drivers.get(body.badge)
        ok = known is not None and known[0] == body.pin
        answer = DriverLoginAnswer(badge=body.badge, ok=ok, name=known[1] if ok else "",
                                   reason="" if ok else "badge or PIN wrong")
        return Response(node="platform", type=name, correlation_id="c", ok=True, body=answer.model_dump())


def command(type: str, body: BaseModel, clock: FakeClock) -> Command:
    return Command(id=new_id(), node="pda-1", type=type, body=body, reply_to=f"portedge/v1/yt/pda-1/res/{type}",
                   correlation_id="c-1", expires_at=clock.now() + timedelta(seconds=30))


def make_task(clock: FakeClock, task_id: str = "T-1", **fields: Any) -> Task:
    values: dict[str, Any] = dict(task_id=task_id, kind="TO_INSPECTION", priority=2,
                                  due_by=clock.now() + timedelta(hours=1), awb=AWB, pieces=3,
                                  source_location="A-03-12-2", destination="BAY-07", customs_ref="CI-5531")
    values.update(fields)
    return Task(**values)


class Rig:
    """A board on a SQLite file with its fakes; `reboot()` is a process restart."""

    def __init__(self, tmp_path, config: PdaSection | None = None) -> None:
        self.path = tmp_path / "pda.db"
        self.clock = FakeClock()
        self.recorder = RecordingRecorder()
        self.platform = FakePlatform({"D1024": ("4711", "王师傅"), "D2048": ("2222", "李师傅")})
        self.config = config or PdaSection(pin_hash_n=2**10)
        self.board = self._new()

    def _new(self) -> Board:
        return Board(self.path, node="pda-1", recorder=self.recorder, requester=self.platform,
                     clock=self.clock, config=self.config)

    def reboot(self) -> Board:
        asyncio.run(self.board.close())
        self.board = self._new()
        return self.board

    async def assign(self, task: Task | None = None, **fields: Any) -> Task:
        task = task or make_task(self.clock, **fields)
        await self.board.on_task_assign(command("task_assign", task, self.clock))
        return task

    async def cancel(self, task_id: str, reason: str = "cancelled", note: str = "") -> None:
        await self.board.on_task_cancel(command("task_cancel", TaskCancel(task_id=task_id, reason=reason, note=note),
                                                self.clock))

    async def login(self, badge: str = "D1024", pin: str = "4711"):
        result = await self.board.login(badge, pin)
        assert result.ok, result
        return result
