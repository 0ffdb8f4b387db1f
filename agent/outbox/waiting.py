"""The asyncio side of a put: callers waiting for their commit, woken and timed in batches.

Theory of operation: a put on the loop gets a `Waiter` (one future, for one record or for one
put_many's burst). The puts made in one turn of the loop with the same time limit leave
together as a `Departure`: handed to the writer thread in one submit (one lock, one wake-up)
and watched by one timer, not a timer handle per put (a timer per put cost 8 % of a put's CPU,
measured: its heap push, and its cancelled handle's pop later). The writer answers every
request of a commit with one `call_soon_threadsafe` per loop (writer._finish_all), which calls
`Waiter.answered` per request; the future resolves when all of a waiter's requests are.

At its time limit the departure withdraws the requests still waiting (at a full class, on a
full disk) and fails their puts with StorageFullError; a request already committing cannot be
withdrawn and is looked at again shortly (a rolled-back commit puts it back to wait).

Never: resolve a put before the writer answered all its requests (it answers after COMMIT);
fail a put whose requests may still be committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.errors import StorageFullError
from agent.outbox.writer import PutRequest, Writer

#: how soon a departure looks again at a put whose commit was under way at its time limit
RECHECK_S = 0.05


@dataclass(slots=True, eq=False)
class Waiter:
    """One put (or put_many) awaiting its commit on `loop`."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    reqs: list[PutRequest]
    departure: Departure
    left: int = 0  # requests the writer has not answered yet
    settled: bool = False  # answered, withdrawn or failed: the departure no longer watches it

    def answered(self) -> None:
        """Loop thread, once per request the writer finished (committed, or failed)."""
        self.left -= 1
        if self.left <= 0:
            if not self.future.done():
                self.future.set_result(None)
            self.settle()

    def settle(self) -> None:
        if not self.settled:
            self.settled = True
            self.departure.settled_one()


@dataclass(slots=True, eq=False)
class Departure:
    """The puts of one loop turn with one time limit: one submit, one timer."""

    loop: asyncio.AbstractEventLoop
    limit: float
    writer: Writer
    why_full: Callable[[PutRequest], str]  # the StorageFullError's words for a request given up on
    waiters: list[Waiter] = field(default_factory=list)
    unsettled: int = 0
    timer: asyncio.TimerHandle | None = None

    def add(self, reqs: list[PutRequest]) -> Waiter:
        waiter = Waiter(self.loop, self.loop.create_future(), reqs, self, len(reqs))
        for req in reqs:
            req.waiter = waiter
        self.waiters.append(waiter)
        self.unsettled += 1
        return waiter

    def leave(self) -> None:
        """Hand every request to the writer at once and start the clock."""
        reqs = [req for waiter in self.waiters if not waiter.settled for req in waiter.reqs]
        try:
            self.writer.submit(reqs)
        except StorageFullError as err:  # the outbox was closed meanwhile
            for waiter in self.waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(err)
                waiter.settle()
            return
        if self.unsettled:
            self.timer = self.loop.call_later(self.limit, self.expire)

    def settled_one(self) -> None:
        self.unsettled -= 1
        if self.unsettled == 0:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.waiters = []

    def expire(self) -> None:
        """At the time limit: give up on what still waits to be committed; look again at what is committing."""
        self.timer = None
        for waiter in list(self.waiters):
            if waiter.settled:
                continue
            if self.writer.cancel(waiter.reqs):
                if not waiter.future.done():
                    waiter.future.set_exception(StorageFullError(self.why_full(waiter.reqs[0])))
                waiter.settle()
        if self.unsettled:
            self.timer = self.loop.call_later(RECHECK_S, self.expire)
