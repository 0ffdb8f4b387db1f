"""A demo task board for screenshots and trying the app without a platform: the real
`agent.tasks.Board` on a temporary SQLite file, fed three tasks as the platform would send
them, with a recorder that keeps updates in memory and a platform that accepts PIN 1234.

Only for demos and screenshots: a real PDA records through the outbox (see pda_app/cli.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from agent.clock import FakeClock
from agent.config.model import PdaSection
from agent.contract.envelope import Command, Envelope, Response, new_id
from agent.contract.tasks import DriverLoginAnswer, Task, TaskCancel
from agent.tasks import Board
from pda_app.connectivity import Connectivity
from pda_app.presenter import Presenter

NODE = "pda-7"
START = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in Shenzhen
SITE_TZ = ZoneInfo("Asia/Shanghai")


class MemoryRecorder:
    """Keeps every recorded envelope in order (what the outbox would send)."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []

    async def record(self, type: str, body: BaseModel, priority: str = "transactional") -> Envelope:
        envelope = Envelope(node=NODE, seq=len(self.sent) + 1, type=type, body=body)
        self.sent.append(envelope)
        return envelope


class DemoPlatform:
    """Answers driver logins: any badge with PIN 1234 is driver 王师傅 (Wang). `silent` plays
    a platform outage behind a working broker: requests time out."""

    silent = False
    name = "王师傅 Wang"

    async def request(self, name: str, body: BaseModel, timeout: float) -> Response:
        if self.silent:
            raise TimeoutError(f"{name}: no answer from the platform within {timeout:g} s")
        ok = getattr(body, "pin", None) == "1234"
        answer = DriverLoginAnswer(badge=body.badge, ok=ok, name=self.name if ok else "",
                                   reason="" if ok else "wrong PIN")
        return Response(node=NODE, type=f"rsp/{name}", correlation_id="demo", ok=True, body=answer)


def command(name: str, body: BaseModel, now: datetime) -> Command:
    return Command(id=new_id(), node=NODE, type=name, body=body, reply_to=f"portedge/v1/demo/{NODE}/res/{name}",
                   correlation_id=f"demo-{name}", expires_at=now + timedelta(minutes=5))


def demo_tasks(now: datetime) -> list[Task]:
    return [
        Task(task_id="T-1042", kind="TO_INSPECTION", priority=2, due_by=now + timedelta(minutes=25),
             awb="17612345675", pieces=3, source_location="A-03-12-2", destination="BAY-07",
             customs_ref="CUS-2026-0113", notes="X-ray"),
        Task(task_id="T-1039", kind="RELOCATE", priority=5, due_by=now - timedelta(minutes=10),
             pieces=1, piece_labels=["(00)376123450000000016"], source_location="B-01-04-1",
             destination="C-02-01-1", destination_kind="storage"),
        Task(task_id="T-1045", kind="RETURN", priority=3, due_by=now + timedelta(hours=2),
             awb="16098765435", pieces=2, source_location="BAY-03", destination="A-01-02-1",
             destination_kind="storage"),
    ]


@dataclass
class Demo:
    board: Board
    presenter: Presenter
    platform: DemoPlatform
    clock: FakeClock
    recorder: MemoryRecorder
    badge: str = "D-20417"
    pin: str = "1234"
    task_id: str = "T-1042"
    source: str = "A-03-12-2"
    destination: str = "BAY-07"
    pieces: list[str] = field(default_factory=lambda: ["17612345675-001", "17612345675-002", "17612345675-003"])
    wrong_piece: str = "16098765435-001"

    async def cancel_active(self) -> None:
        cancel = TaskCancel(task_id=self.task_id, reason="cancelled", note="inspection_moved")
        await self.board.on_task_cancel(command("task_cancel", cancel, self.clock.now()))

    async def close(self) -> None:
        self.presenter.close()
        await self.board.close()


async def make_demo(folder: Path, *, online: bool = True, tasks: list[Task] | None = None,
                    driver_name: str = "王师傅 Wang") -> Demo:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("board.db*"):
        old.unlink()  # a demo always starts from the same three tasks
    clock = FakeClock(START)
    recorder = MemoryRecorder()
    # a cheap PIN hash: the demo's PIN is public anyway
    platform = DemoPlatform()
    board = Board(folder / "board.db", node=NODE, recorder=recorder, requester=platform, clock=clock,
                  config=PdaSection(pin_hash_n=2**10))
    await board.start()
    platform.name = driver_name
    for task in tasks if tasks is not None else demo_tasks(clock.now()):
        await board.on_task_assign(command("task_assign", task, clock.now()))
    link = Connectivity(now=lambda: clock.monotonic())
    link.set_broker(online)
    link.waiting = 3
    if online:
        link.heard_platform()
    presenter = Presenter(board, link=link, tz=SITE_TZ)
    return Demo(board, presenter, platform, clock, recorder)
