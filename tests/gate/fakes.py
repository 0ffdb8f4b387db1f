"""Fakes at the gate lane's seams: a Recorder that keeps records, a Requester that plays the
platform's gate_verify (answer, deny, silence, late answer), a barrier port that remembers
every write, I/O snapshots, and a Rig that composes a GateStation around them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from agent.clock import FakeClock
from agent.config.model import GateSection
from agent.contract.devices import CameraRead, Weight
from agent.contract.envelope import Command, Envelope, Response, new_id
from agent.contract.gate import LaneInputs, Permit, PermitsSync, VerifyAnswer, VerifyRequest
from agent.errors import RequestTimeoutError
from agent.gate.station import GateStation

PLATE = "沪A1234挂"  # trailer plate: 4 characters then 挂 (GA 36-2018)
BOX = "CSQU3054383"
OTHER_BOX = "TCNU7200794"
BAD_CHECK = "CSQU3054384"


def Io(approach: bool = False, safety: bool = False, exit: bool = False, open_limit: bool = False,  # noqa: N802
       closed_limit: bool = True, photocell_broken: bool = False, estop: bool = False) -> LaneInputs:
    """What agent.devices.gate_io emits: one snapshot of the lane's inputs (a lane at rest by default)."""
    return LaneInputs(approach=approach, safety=safety, exit=exit, open_limit=open_limit, closed_limit=closed_limit,
                      photocell_broken=photocell_broken, estop=estop)


class RecordingRecorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, BaseModel, str]] = []

    async def record(self, type: str, body: BaseModel, priority: str = "transactional") -> Envelope:
        self.records.append((type, body, priority))
        return Envelope[Any](node="lane-1", type=type, body=body.model_dump(mode="json"))

    def of(self, type_: str) -> list[Any]:
        return [body for t, body, _ in self.records if t == type_]

    def priorities(self, type_: str) -> set[str]:
        return {p for t, _, p in self.records if t == type_}


class ScriptedPlatform:
    """gate_verify answers: `mode` is "allow", "deny", "silent" (raise timeout), or "hold"
    (wait until `release()` then answer allow: a late answer)."""

    def __init__(self) -> None:
        self.mode = "allow"
        self.requests: list[VerifyRequest] = []
        self.reason = "no pre-advice"
        self._gate = asyncio.Event()
        self.held = 0

    def release(self) -> None:
        self._gate.set()

    def _answer(self, body: VerifyRequest, allow: bool) -> Response:
        answer = VerifyAnswer(transaction_id=body.transaction_id, allow=allow, type="DI" if allow else None,
                              ticket="Block C row 4" if allow else "", yard_position="C-04-11" if allow else "",
                              reason="" if allow else self.reason)
        return Response[Any](node="platform", type="gate_verify", correlation_id="c-1", ok=True, body=answer.model_dump())

    async def request(self, name: str, body: BaseModel, timeout: float) -> Response:
        assert name == "gate_verify" and isinstance(body, VerifyRequest)
        self.requests.append(body)
        if self.mode == "silent":
            raise RequestTimeoutError("no answer")
        if self.mode == "hold":
            self.held += 1
            await self._gate.wait()
        return self._answer(body, self.mode != "deny")


class RecordingPort:
    """A BarrierPort that keeps every write together with the inputs the lane had then."""

    def __init__(self) -> None:
        self.writes: list[dict[str, bool]] = []
        self.inputs: Io | None = None
        self.unsafe_closes: list[tuple[dict, Io | None]] = []

    async def set_outputs(self, *, barrier_open: bool, barrier_close: bool, red: bool, green: bool) -> None:
        out = {"barrier_open": barrier_open, "barrier_close": barrier_close, "red": red, "green": green}
        self.writes.append(out)
        i = self.inputs
        if barrier_close and (i is None or i.safety or i.photocell_broken or i.exit or i.estop):
            self.unsafe_closes.append((out, i))

    @property
    def last(self) -> dict[str, bool]:
        return self.writes[-1]


def counter_ids():
    n = 0

    def make() -> str:
        nonlocal n
        n += 1
        return f"01JDGATE{n:018d}"

    return make


class Rig:
    def __init__(self, tmp_path, **settings: Any):
        self.clock = FakeClock()
        self.recorder = RecordingRecorder()
        self.platform = ScriptedPlatform()
        self.port = RecordingPort()
        base = {"lane": "lane-1", "io": "io-1", "cameras": ["cam-plate", "cam-front", "cam-rear"],
                "state_path": tmp_path / "gate.db"}
        self.settings = GateSection.model_validate(base | settings)
        self.station = self._station()
        self.io_state = Io()

    def _station(self) -> GateStation:
        return GateStation(self.settings, self.recorder, self.platform, port=self.port, clock=self.clock,
                           new_id=counter_ids())

    @property
    def lane(self):
        return self.station.lane

    @property
    def runner(self):
        return self.station.runner

    async def io(self, **changes: bool) -> None:
        self.io_state = replace(self.io_state, **changes)
        self.port.inputs = self.io_state
        await self.emit("io-1", self.io_state)

    async def emit(self, device: str, event: Any) -> None:
        """Hand the station an event, then wait for the lane's books (they run behind the turn)."""
        await self.station.emit(device, event)
        await self.runner.books.drain()

    async def plate(self, text: str = PLATE, confidence: float = 0.97) -> None:
        await self.emit("cam-plate", CameraRead(device="cam-plate", target="plate", text=text,
                                                        confidence=confidence, position="front",
                                                        image_ref="cam-plate/1.jpg"))

    async def box(self, position: str, text: str = BOX, confidence: float = 0.95) -> None:
        device = f"cam-{position}"
        await self.emit(device, CameraRead(device=device, target="container", text=text, confidence=confidence,
                                                   position=position, image_ref=f"{device}/1.jpg"))

    async def weight(self, kg: float = 28450.0, stable: bool = True) -> None:
        await self.emit(self.settings.scale or "scale-1",
                                Weight(device="scale-1", value=kg, unit="kg", mode="gross", stable=stable))

    async def tick(self, seconds: float = 0.0) -> None:
        if seconds:
            self.clock.advance(seconds)
        await self.runner.tick()
        await self.runner.books.drain()

    async def settle(self) -> None:
        await self.runner.settle()

    async def arrive_and_read(self) -> None:
        await self.io(approach=True)
        await self.plate()
        await self.box("front")
        await self.box("rear")

    async def drive_through(self) -> None:
        """Barrier up, the truck rolls over safety loop and exit loop, exit clears."""
        await self.io(open_limit=True, closed_limit=False)
        await self.io(approach=False, safety=True)
        await self.io(safety=False, exit=True)
        await self.io(exit=False)

    def transactions(self):
        return self.recorder.of("gate_transaction")

    def command(self, type_: str, body: BaseModel, expires_in: float = 30.0) -> Command:
        now = self.clock.now()
        return Command[Any](id=new_id(), node="lane-1", type=type_, body=body, reply_to="r", correlation_id="c-9",
                            ts=now, expires_at=now + timedelta(seconds=expires_in))

    def permit_set(self, version: int = 1, plate: str = PLATE, containers: tuple[str, ...] = (BOX,)) -> PermitsSync:
        now = self.clock.now()
        return PermitsSync(version=version, permits=[Permit(
            permit_id=f"P-{version}", plate=plate, containers=list(containers), type="RE",
            valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=8), yard_position="B-01-02")])

    async def close(self) -> None:
        await self.station.close()
