"""The personnel station at its seams (a fake recorder, requester and turnstile; a real
SQLite file): an unlocked pass survives a crash as an `aborted` record, the allow-list
decides offline and queues the pass for reconciliation, an expired decision never unlocks."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from agent.clock import FakeClock
from agent.contract.envelope import Response
from agent.contract.personnel import AllowEntry, AllowListSync, PersonVerifyAnswer
from agent.errors import RequestTimeoutError
from agent.personnel import events as ev
from agent.personnel.events import State
from agent.personnel.privacy import SiteKey
from agent.personnel.station import PersonnelStation

from .kit import T0, VALID, card
from .kit import settings as make_settings


class Books:
    def __init__(self) -> None:
        self.records: list[tuple[str, Any]] = []

    async def record(self, type_: str, body: Any, priority: str = "transactional") -> None:
        self.records.append((type_, body))


class Platform:
    def __init__(self, allow: bool | None):
        self.allow = allow

    async def request(self, name: str, body: Any, timeout: float) -> Response:
        if self.allow is None:
            raise RequestTimeoutError("silent")
        return Response[Any](node="platform", type=name, correlation_id="c", ok=True,
                             body=PersonVerifyAnswer(pass_id=body.pass_id, allow=self.allow).model_dump(mode="json"))


class Arm:
    def __init__(self) -> None:
        self.writes: list[str] = []

    async def unlock(self) -> None:
        self.writes.append("unlock")

    async def relock(self) -> None:
        self.writes.append("relock")


def station(tmp_path, allow: bool | None, clock: FakeClock, key: SiteKey):
    cfg = make_settings(tmp_path, state_path=tmp_path / "people.db")
    books, arm = Books(), Arm()
    return PersonnelStation(cfg, books, Platform(allow), key, turnstile=arm, clock=clock), books, arm


async def settle(st: PersonnelStation) -> None:
    for _ in range(20):
        await asyncio.sleep(0)
    await asyncio.gather(*st._tasks, return_exceptions=True)


def test_an_unlocked_pass_interrupted_by_a_crash_is_recorded_as_aborted(tmp_path):
    key, clock = SiteKey(os.urandom(32)), FakeClock(T0)

    async def first_life():
        st, books, arm = station(tmp_path, True, clock, key)
        await st.start()
        await st.emit("ts-1", _snapshot(0))
        await st.emit("id-1", card(VALID))
        await settle(st)
        assert arm.writes[-1] == "unlock" and st.lane.state is State.UNLOCKED
        st.db.close()  # the agent dies here: no record of the pass yet

    async def second_life():
        st, books, _ = station(tmp_path, True, clock, key)
        await st.start()
        (kind, passage), = books.records
        assert kind == "person_passage" and passage.outcome == "aborted" and passage.masked == "110105********002X"
        st2_open = st.journal.open()
        await st.close()
        return st2_open

    asyncio.run(first_life())
    assert asyncio.run(second_life()) == []


def test_platform_silent_the_allow_list_decides_and_queues_for_reconcile(tmp_path):
    key, clock = SiteKey(os.urandom(32)), FakeClock(T0)

    async def main():
        st, books, arm = station(tmp_path, None, clock, key)
        await st.start()
        person = key.person_key("id_card", VALID["id_number"])
        await st.allow.replace(AllowListSync(version=4, entries=[AllowEntry(
            person_key=person, areas=["apron"], valid_from=T0, valid_until=T0.replace(year=2027))]))
        await st.emit("ts-1", _snapshot(0))
        await st.emit("id-1", card(VALID))
        await settle(st)
        assert arm.writes[-1] == "unlock"
        (request, decision), = st.allow.pending()
        assert decision.by == "offline" and decision.list_version == 4 and request.person_key == person
        st.requester = Platform(True)
        assert await st.reconcile() == 1 and st.allow.pending() == []
        assert [k for k, _ in books.records] == ["person_reconcile"]
        await st.close()

    asyncio.run(main())


def test_an_expired_decision_never_unlocks(tmp_path):
    key, clock = SiteKey(os.urandom(32)), FakeClock(T0)

    async def main():
        st, books, arm = station(tmp_path, True, clock, key)
        follow = await st._unlock("P1", expires_at=clock.monotonic() - 0.1)
        assert isinstance(follow, ev.UnlockFailed) and arm.writes == []
        await st.close()

    asyncio.run(main())


def test_every_people_db_commit_is_on_the_writer_thread_never_the_loop(tmp_path, mocker):
    """Journal, reconcile queue and allow-list writes go through agent.storage's writer thread
    (an fsync on the loop would stall every lane input behind it)."""
    from agent import storage

    committed_on: list[str] = []
    real = storage.transaction

    def watched(conn):
        committed_on.append(threading.current_thread().name)
        return real(conn)

    mocker.patch.object(storage, "transaction", watched)
    key, clock = SiteKey(os.urandom(32)), FakeClock(T0)

    async def main():
        st, books, arm = station(tmp_path, None, clock, key)
        await st.start()
        person = key.person_key("id_card", VALID["id_number"])
        assert await st.allow.replace(AllowListSync(version=1, entries=[AllowEntry(
            person_key=person, areas=["apron"], valid_from=T0, valid_until=T0.replace(year=2027))]))
        assert not await st.allow.replace(AllowListSync(version=1, entries=[]))  # not newer: kept
        await st.emit("ts-1", _snapshot(0))
        await st.emit("id-1", card(VALID))
        await settle(st)
        assert arm.writes[-1] == "unlock" and st.journal.open() and st.allow.pending()
        await st.close()

    asyncio.run(main())
    assert len(committed_on) >= 4  # two syncs, the reconcile row, the journalled pass
    assert set(committed_on) == {"portedge-people-books"}


def _snapshot(passages: int):
    from agent.devices.turnstile import TurnstileInputs

    return TurnstileInputs(locked=True, tailgate=False, fire_alarm=False, occupied=False, passages=passages)
