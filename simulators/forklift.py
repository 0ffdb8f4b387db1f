"""A scripted forklift driver working a PDA's task board, as a person would: log in, accept
the next task, scan the source location, each piece, then the inspection bay, and complete.
With `mistake_rate` the driver sometimes scans a wrong label first (and the board must say
no). Deterministic with a seeded rng; pauses are real seconds scaled by `pace`."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter

from agent.tasks import Board

log = logging.getLogger(__name__)


class ForkliftDriver:
    def __init__(self, board: Board, *, badge: str, pin: str, rng: random.Random, pace: float = 0.2,
                 mistake_rate: float = 0.1):
        self.board, self.badge, self.pin = board, badge, pin
        self.rng, self.pace, self.mistake_rate = rng, pace, mistake_rate
        self.counts: Counter[str] = Counter()

    async def _pause(self, factor: float = 1.0) -> None:
        await asyncio.sleep(self.pace * factor * self.rng.uniform(0.5, 1.5))

    async def _scan(self, label: str) -> bool:
        if self.rng.random() < self.mistake_rate:
            wrong = await self.board.scan("A-99-99-9" if self.rng.random() < 0.5 else "17600000000")
            self.counts["wrong_scan_refused" if not wrong.ok else "wrong_scan_accepted"] += 1
            await self._pause(0.5)
        result = await self.board.scan(label)
        self.counts["scan_ok" if result.ok else f"scan_refused:{result.code}"] += 1
        return result.ok

    async def work(self) -> None:
        """Work tasks until cancelled."""
        while True:
            try:
                if self.board.driver is None:
                    result = await self.board.login(self.badge, self.pin)
                    self.counts["login_ok" if result.ok else "login_refused"] += 1
                    if not result.ok:
                        await self._pause(10)
                        continue
                await self._one_task()
            except asyncio.CancelledError:
                raise
            except Exception:  # a scripted driver must not stop the simulation
                log.exception("forklift driver %s stumbled", self.badge)
                self.counts["stumbled"] += 1
                await self._pause(5)

    async def _one_task(self) -> None:
        waiting = [t for t in self.board.tasks() if t.state == "ASSIGNED"]
        if not waiting:
            await self._pause(2)
            return
        view = waiting[0]
        task = view.task
        if not (await self.board.accept(task.task_id)).ok:
            self.counts["accept_refused"] += 1
            return
        await self._pause()
        if not await self._scan(task.source_location):
            return
        for piece in range(1, task.pieces + 1):
            await self._pause()
            if self.board.task(task.task_id) is None:  # cancelled under our feet
                self.counts["cancelled_midway"] += 1
                return
            label = task.piece_labels[piece - 1] if task.piece_labels else f"{task.awb}-{piece:03d}"
            await self._scan(label)
        await self._pause(2)
        if not await self._scan(task.destination):
            return
        done = await self.board.complete()
        self.counts["completed" if done.ok else f"complete_refused:{done.code}"] += 1
