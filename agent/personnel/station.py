r"""A personnel station: one turnstile lane's workflow wired to its readers, the turnstile, the
outbox and the platform. It does what the pure `PersonLane` asks.

    ID card reader (CardRead / CardReadFailed) --\                         /--> TurnstilePort (unlock)
    badge reader (BadgeFrame) --------------------+--> identity (hash, mask) --> PersonLane
    turnstile (TurnstileInputs / DeviceStatus) --/                         \--> Recorder / Requester

Each input goes through `feed`, which holds one lock: the lane handles the event, the station
does the actions in order (an allow-list lookup comes back as a follow-up event in the same
turn), and records (person_passage, person_alarm) go to the outbox after the turn's unlock
write, so the outbox is never between a decision and the turnstile. `run()` ticks the lane,
re-asks the platform about offline decisions, and purges stored photos past retention.

Storage: the allow-list, the reconcile queue and the pass journal are one SQLite file
(agent/personnel/allowlist.py), read on the loop and written on agent.storage's writer
thread, so a turn never waits on an fsync.

Privacy: the card's clear text is turned into an `Identity` (agent/personnel/identity.py) as
soon as it arrives; nothing here logs, stores or sends more than the key and the mask.

Never: unlock other than on the lane's `Unlock` action, write an unlock past its expiry, or
let a recorder or device error escape into the event loop (each is logged and counted).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from agent.clock import SYSTEM_CLOCK, Clock
from agent.codecs.sam import CardRead, CardReadFailed
from agent.codecs.wiegand import BadgeFrame
from agent.config.personnel import PersonnelSection
from agent.contract.envelope import Command, body_as, new_id
from agent.contract.node import DeviceStatus
from agent.contract.personnel import (
    AllowListSync,
    PersonDecision,
    PersonReconcile,
    PersonVerifyAnswer,
)
from agent.errors import InvalidAnswerError, InvalidCommandError, RequestTimeoutError
from agent.interfaces import Handler, Recorder, Requester
from agent.personnel import events as ev
from agent.personnel import identity
from agent.personnel.allowlist import AllowList, PassJournal, open_people_db
from agent.personnel.lane import PersonLane
from agent.personnel.privacy import SiteKey
from agent.personnel.table import TABLE

log = logging.getLogger(__name__)
_BOOKS = (ev.Record, ev.Alarm, ev.AwaitReconcile)


class TurnstilePort(Protocol):
    async def unlock(self) -> None: ...

    async def relock(self) -> None: ...


class PersonnelStation:
    def __init__(self, settings: PersonnelSection, recorder: Recorder, requester: Requester, key: SiteKey, *,
                 turnstile: TurnstilePort | None = None, clock: Clock = SYSTEM_CLOCK,
                 new_id: Callable[[], str] = new_id):
        self.settings, self.recorder, self.requester, self.key = settings, recorder, requester, key
        self.turnstile, self.clock = turnstile, clock
        if settings.state_path is None:
            raise ValueError("PersonnelSection.state_path unset: the runtime puts it beside the outbox")
        self.db = open_people_db(settings.state_path)
        self.allow = AllowList(self.db)
        self.journal = PassJournal(self.db)
        self.lane = PersonLane(settings, TABLE, clock, new_id)
        self.counters: Counter[str] = Counter()
        self.display_text = ""
        self.unlocks: list[str] = []  # pass ids unlocked, in order (for tests and the demo)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._relock_when_seen = True
        self._journalled: str | None = None  # the pass id whose unlock is journalled

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Safe state: the arm is relocked as soon as the turnstile answers (a crash may have
        left an unlock standing), and again whenever it comes back after a loss."""
        self._relock_when_seen = True
        for passage in self.journal.open():
            aborted = passage.model_copy(update={"outcome": "aborted", "ended_at": self.clock.now(),
                                                 "reason": "the agent stopped during this pass"})
            log.warning("lane %s: pass %s was interrupted: recording it as aborted", self.settings.lane, passage.pass_id)
            await self.recorder.record("person_passage", aborted, "transactional")  # raises: keep the row
            await self.journal.clear(passage.pass_id)

    async def run(self) -> None:
        next_slow = self.clock.monotonic()
        while True:
            try:
                await self.feed(ev.Tick())
            except Exception:
                log.exception("personnel lane tick failed")
                self.counters["tick_failed"] += 1
            if self.clock.monotonic() >= next_slow:
                next_slow = self.clock.monotonic() + self.settings.reconcile_s
                self._spawn(self._slow_work())
            await asyncio.sleep(self.settings.tick_s)

    async def _slow_work(self) -> None:
        await self.reconcile()
        self.purge_photos()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.db.close()

    def storage_reasons(self) -> list[str]:
        """Health: the people file was corrupt and moved aside (the platform re-sends the list),
        or its writes fail (agent.storage)."""
        return self.db.reasons()

    # -- routing (DeviceSink) ------------------------------------------------------------------------
    async def emit(self, device: str, event: Any) -> None:
        s = self.settings
        try:
            if device in s.readers:
                if isinstance(event, CardRead):
                    who = identity.from_card(event, self.key, keep_name=s.send_name, keep_photo=s.store_photos)
                    log.info("lane %s: card %s presented", s.lane, who.masked)
                    await self.feed(ev.Presented(who))
                elif isinstance(event, BadgeFrame):
                    await self.feed(ev.Presented(identity.from_badge(event, self.key)))
                elif isinstance(event, CardReadFailed):
                    await self.feed(ev.ReadFailed(event.reason))
            elif device == s.turnstile:
                if isinstance(event, DeviceStatus):
                    if event.status != "online":
                        await self.feed(ev.Turnstile(True, False, False, -1, stale=True))
                elif hasattr(event, "passages"):
                    if event.stale:
                        self._relock_when_seen = True
                    elif self._relock_when_seen:
                        self._relock_when_seen = False
                        await self._relock(None)
                    await self.feed(ev.Turnstile(event.locked, event.tailgate, event.fire_alarm, event.passages,
                                                 stale=event.stale))
        except Exception:  # a bad event is counted, never a crash of the driver that sent it
            log.exception("personnel station could not handle %s from %s", type(event).__name__, device)
            self.counters["route_failed"] += 1

    # -- the turn ----------------------------------------------------------------------------------
    async def feed(self, *events: ev.Event) -> None:
        books: list[ev.Action] = []
        async with self._lock:
            queue = deque(events)
            while queue:
                for action in self.lane.handle(queue.popleft()):
                    if isinstance(action, _BOOKS):
                        books.append(action)
                        continue
                    follow = await self._do(action)
                    if follow is not None:
                        queue.append(follow)
            for action in books:
                await self._book(action)
            if self.lane.pass_ is not None and self.lane.pass_.unlocked and self._journalled != self.lane.pass_.pass_id:
                # an unlocked pass must not vanish in a crash: journal it (after the unlock write)
                self._journalled = self.lane.pass_.pass_id
                await self._guard(self.journal.save(self.lane.draft()), "journal")

    async def _do(self, action: ev.Action) -> ev.Event | None:
        match action:
            case ev.SendVerify(request, timeout_s):
                self._spawn(self._verify(request, timeout_s))
            case ev.ConsultList(pass_id, person_key):
                decision = self.allow.decide(person_key, self.settings.area, self.clock.now())
                return ev.ListLookup(pass_id, decision)
            case ev.Unlock(pass_id, expires_at):
                return await self._unlock(pass_id, expires_at)
            case ev.Relock(pass_id):
                await self._relock(pass_id)
            case ev.Show(text):
                self.display_text = text
        return None

    async def _unlock(self, pass_id: str, expires_at: float) -> ev.Event | None:
        if self.clock.monotonic() > expires_at:
            self.counters["unlock_expired"] += 1
            return ev.UnlockFailed(pass_id, "decision expired before the unlock could be written")
        if self.turnstile is None:
            return ev.UnlockFailed(pass_id, "no turnstile configured")
        try:
            await self.turnstile.unlock()
        except Exception as err:  # refused by the controller's interlock, or no answer
            self.counters["unlock_failed"] += 1
            log.warning("lane %s: unlock for %s failed: %s", self.settings.lane, pass_id, err)
            return ev.UnlockFailed(pass_id, f"{type(err).__name__}: {err}"[:300])
        self.unlocks.append(pass_id)
        self.counters["unlocks"] += 1
        return None

    async def _relock(self, pass_id: str | None) -> None:
        if self.turnstile is None:
            return
        try:
            await self.turnstile.relock()
        except Exception as err:  # the controller's own unlock timeout relocks it anyway
            self.counters["relock_failed"] += 1
            log.warning("lane %s: relock failed: %s", self.settings.lane, err)

    # -- books ---------------------------------------------------------------------------------------
    async def _book(self, action: ev.Action) -> None:
        try:
            match action:
                case ev.Record(passage, photo):
                    if photo is not None and self.settings.store_photos:
                        passage = passage.model_copy(update={"photo_ref": await asyncio.to_thread(
                            self._store_photo, passage.pass_id, photo)})
                    await self.recorder.record("person_passage", passage, "transactional")
                    if passage.pass_id == self._journalled:
                        self._journalled = None
                        await self.journal.clear(passage.pass_id)
                case ev.Alarm(alarm):
                    log.warning("lane %s: %s alarm (%s)", alarm.lane, alarm.what, alarm.detail)
                    await self.recorder.record("person_alarm", alarm, "transactional")
                case ev.AwaitReconcile(request, decision):
                    await self.allow.await_reconcile(request, decision)
        except Exception:
            log.exception("personnel lane could not record %s", type(action).__name__)
            self.counters[f"record_failed.{type(action).__name__}"] += 1

    async def _guard(self, awaitable: Any, what: str) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("personnel lane: %s failed", what)
            self.counters[f"{what}_failed"] += 1

    def _store_photo(self, pass_id: str, photo: bytes) -> str:
        folder = Path(self.settings.photo_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{pass_id}.wlt"
        (folder / name).write_bytes(photo)
        return name

    def purge_photos(self) -> int:
        """Delete stored photos older than the retention. Returns how many went."""
        folder = Path(self.settings.photo_dir)
        if not folder.is_dir():
            return 0
        cutoff = self.clock.now().timestamp() - self.settings.photo_retention_s
        gone = 0
        for path in folder.glob("*.wlt"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone += 1
            except OSError as err:
                log.warning("photo purge: %s: %s", path.name, err.strerror)
        self.counters["photos_purged"] += gone
        return gone

    # -- platform --------------------------------------------------------------------------------------
    async def _verify(self, request: Any, timeout_s: float) -> None:
        try:
            response = await self.requester.request("person_verify", request, timeout=timeout_s)
        except (RequestTimeoutError, InvalidAnswerError, TimeoutError):  # no usable answer
            self.counters["verify_timeout"] += 1
            await self.feed(ev.PlatformTimeout(request.pass_id))
            return
        except Exception as err:
            log.warning("person_verify for %s failed: %s", request.pass_id, err)
            await self.feed(ev.PlatformTimeout(request.pass_id))
            return
        if not response.ok or response.body is None:
            await self.feed(ev.PlatformTimeout(request.pass_id))
            return
        await self.feed(ev.Verdict(_answer(response.body)))

    async def reconcile(self) -> int:
        """Ask again about offline decisions; publish person_reconcile for each answered."""
        done = 0
        for request, decision in self.allow.pending():
            try:
                response = await self.requester.request("person_verify", request, timeout=self.settings.verify_s)
            except (RequestTimeoutError, InvalidAnswerError, TimeoutError):  # no usable answer
                break
            if not response.ok or response.body is None:
                self.counters["reconcile_refused"] += 1
                continue
            if await self._reconciled(request.pass_id, decision, _answer(response.body)):
                done += 1
        return done

    async def _reconciled(self, pass_id: str, decision: PersonDecision, answer: PersonVerifyAnswer) -> bool:
        body = PersonReconcile(pass_id=pass_id, lane=self.settings.lane, offline=decision, platform=answer,
                               agree=answer.allow == decision.allow)
        try:
            await self.recorder.record("person_reconcile", body, "transactional")
        except Exception:
            log.exception("could not record person_reconcile")
            return False
        await self.allow.reconciled(pass_id)
        self.counters["reconciled"] += 1
        return True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- commands ----------------------------------------------------------------------------------------
    def command_handlers(self) -> dict[str, Handler]:
        async def allow_list_sync(command: Command[Any]) -> None:
            body = body_as(command, AllowListSync)
            if command.expired(self.clock.now()):
                raise InvalidCommandError("expired", f"command expired at {command.expires_at.isoformat()}")
            if not await self.allow.replace(body):
                log.info("allow_list_sync version %d not newer than %d: ignored", body.version, self.allow.version)
            return None

        return {"allow_list_sync": allow_list_sync}


def _answer(body: Any) -> PersonVerifyAnswer:
    if isinstance(body, PersonVerifyAnswer):
        return body
    return PersonVerifyAnswer.model_validate(body.model_dump() if hasattr(body, "model_dump") else body)

