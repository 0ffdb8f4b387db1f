"""One gate lane for end-to-end scenarios: the firmware stubs (LaneRig: gate controller over a
pty pair, Toledo indicator on a pty, three OCR cameras over HTTP), a lane node (in-process on
the test's loop, or a child process for the kill test), a real mosquitto and the platform
simulator, whose ledger is the oracle.

`LaneSetup.open(...)` builds it all and waits until the lane is ready (link up, inputs read,
cameras listening); `close()` takes it down in reverse. Truck moves (`arrive`, `read`,
`pass_under`, `back_out`) are small steps so a scenario can put a fault between any two.

Never: assert on wall-clock durations here (the machine is noisy); waits have generous
deadlines and fail with what was seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from agent.clock import SYSTEM_CLOCK
from agent.config import parse
from agent.contract.gate import Permit
from agent.gate.events import State
from agent.runtime import NodeRuntime
from simulators.lane_rig import LaneRig
from simulators.platform import PlatformSim, Preadvice
from simulators.platform.orders import Truck, container_number, plate

LANE = "lane-1"
SITE = "e2e"

#: short timeouts: a scenario's waits are bounded by these, not by production values
FAST_GATE: dict[str, Any] = {
    "verify_s": 0.8, "holdoff_s": 0.3, "identify_s": 5, "weigh_s": 5, "pass_s": 15, "reconcile_s": 0.5,
    "debounce_s": 0.4, "trouble_nag_s": 30, "permit_lookup_s": 1.0, "late_answer_s": 20,
}


def make_truck(seed: int, *, type_: str = "DI") -> Truck:
    rng = random.Random(seed)
    return Truck(plate=plate(rng), containers=[container_number(rng)], type=type_, weight_kg=31250.0,
                 pre_advised=True, yard_position=f"B-{seed % 30:02d}-07")


async def until(predicate, timeout: float = 10.0, what: str = "") -> None:
    """Wait until `predicate()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def _step(awaitable, what: str, timeout: float = 20.0) -> None:
    """One teardown step: a hang is reported with every task's stack, then the next step runs."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait([task], timeout=timeout)
    if not done:
        print(f"--- {what} hangs after {timeout:g}s; tasks:", file=sys.stderr)
        for t in asyncio.all_tasks():
            t.print_stack(limit=20, file=sys.stderr)
        task.cancel()
        raise AssertionError(f"{what} did not finish within {timeout:g}s")
    with contextlib.suppress(Exception):
        task.result()


async def _close_node(node: NodeRuntime) -> None:
    """Close an in-process node. Its link waits up to 3 s for the offline state's PUBACK and
    3 s for the disconnect; a loaded CI machine needs more than that, so the bound is wide."""
    await _step(node.close(), "the lane node's close", timeout=60.0)


@dataclass
class LaneSetup:
    rig: LaneRig
    platform: PlatformSim
    node: NodeRuntime | None = None
    in_process: bool = True
    notes: list[str] = field(default_factory=list)

    # -- life ---------------------------------------------------------------------------------
    @classmethod
    async def open(cls, broker_url: str, workdir: Path, *, in_process: bool = True, seed: int = 1,
                   gate: dict[str, Any] | None = None, watchdog_s: float = 3.0,
                   settle_s: float = 0.3, extra_toml: str = "") -> LaneSetup:
        # in process, the Modbus stub answers from this interpreter, beside the node and the platform
        # simulator: on a loaded machine its answer can be a few hundred ms late for reasons that
        # are not the node's (a gap of 350 ms seen with two CPU hogs), and three late answers in a
        # row would take the lane to TROUBLE; a separate node process keeps the production 0.2 s
        io_timeout_s = 0.6 if in_process else 0.2
        rig = LaneRig(LANE, SITE, workdir / LANE, broker_url, random.Random(seed), misread_rate=0.0, travel_s=0.3,
                      watchdog_s=watchdog_s, settle_s=settle_s, io_timeout_s=io_timeout_s,
                      gate={**FAST_GATE, **(gate or {})}, extra_toml=extra_toml)
        platform = await asyncio.to_thread(PlatformSim(broker_url, SITE, rng=random.Random(seed)).start)
        setup = cls(rig, platform, in_process=in_process)
        try:
            await rig.start()
            await setup.start_node()
        except BaseException:
            await setup.close()
            raise
        return setup

    async def start_node(self) -> None:
        if self.in_process:
            config = parse(self.rig.config_path.read_text(), str(self.rig.config_path))
            self.node = NodeRuntime(config, clock=SYSTEM_CLOCK, rng=random.Random(7))
            await self.node.start()
            await until(lambda: self.node.link.connected, 10, "the link to connect")
            await until(lambda: self.station.guard.inputs is not None, 10, "the first I/O snapshot")
            await until(lambda: all(d.state == "online" for d in self.node.drivers), 10, "every device online")
        else:
            self.rig.spawn()
        await until(self.online, 20, "the lane's retained 'online' state")

    def online(self) -> bool:
        state = self.platform.node_states.get(LANE) or {}
        return state.get("body", state).get("status") == "online"

    async def close(self) -> None:
        if self.node is not None:
            await _close_node(self.node)
            self.node = None
        await _step(self.rig.stop(), "the lane rig's stop")
        await _step(asyncio.to_thread(self.platform.stop), "the platform simulator's stop")
        self.platform.ledger.close()

    @property
    def station(self):
        assert self.node is not None and self.node.station is not None
        return self.node.station

    @property
    def model(self):
        return self.rig.controller.model

    # -- the platform's side ------------------------------------------------------------------
    def preadvise(self, truck: Truck, *, allow: bool = True, reason: str = "") -> None:
        self.platform.add_preadvice(Preadvice(truck.plate, truck.containers, truck.type, truck.yard_position,
                                              allow=allow, reason=reason))

    @staticmethod
    def permit(truck: Truck, permit_id: str = "P-00001") -> Permit:
        now = SYSTEM_CLOCK.now()
        return Permit(permit_id=permit_id, plate=truck.plate, containers=truck.containers, type=truck.type,
                      valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=2),
                      yard_position=truck.yard_position)

    async def push_permit(self, truck: Truck, version: int = 1) -> None:
        permit = self.permit(truck, f"P-{version:05d}")
        cid = self.platform.push_permits(LANE, version, [permit])
        answer = await asyncio.to_thread(self.platform.wait_response, cid, 10.0)
        assert answer is not None and answer["ok"], answer

    # -- the truck ----------------------------------------------------------------------------
    async def arrive(self, truck: Truck) -> None:
        """The truck drives onto the approach loop; returns once the lane has seen it (cameras
        fire on the loop: a read that reaches an idle lane is ignored, as it should be)."""
        before = self.arrivals()
        self.model.truck_arrives()
        self.rig.indicator.set_load(truck.weight_kg)
        if self.node is not None:
            await self.wait_state(State.ARRIVED)
        else:
            await until(lambda: self.arrivals() > before, 15, "the lane to record the arrival")

    def arrivals(self) -> int:
        return sum(1 for e in self.lane_events("state") if e["value"] == State.ARRIVED.value)

    async def post(self, camera: str, text: str, confidence: float = 0.95) -> None:
        target = "plate" if camera == "cam-plate" else "container"
        position = "rear" if camera == "cam-rear" else "front"
        frame = getattr(self, "_frame", 0) + 1
        self._frame = frame
        status, answer = await asyncio.to_thread(self.rig.cameras[camera].post, {
            "text": text, "confidence": confidence, "image_ref": f"{camera}/{frame:04d}.jpg",
            "target": target, "position": position})
        assert status == 200, (status, answer)

    async def read(self, truck: Truck, *, front: str | None = None, rear: str | None = None) -> None:
        """The three cameras read the truck (override a container read with `front`/`rear`)."""
        await self.post("cam-plate", truck.plate)
        await self.post("cam-front", front or truck.containers[0])
        await self.post("cam-rear", rear or truck.containers[-1])

    async def wait_open(self, timeout: float = 30.0) -> None:
        await until(lambda: self.model.open_limit, timeout, "the barrier's open limit")

    async def pass_under(self) -> None:
        """The truck drives under the open barrier and away, as the loops and beam see it."""
        model = self.model
        model.truck_under_barrier()
        self.rig.indicator.set_load(0)
        await asyncio.sleep(0.3)
        model.truck_leaves()
        await asyncio.sleep(0.3)
        model.truck_gone()

    async def back_out(self) -> None:
        self.model.set_loop("approach", False)
        self.rig.indicator.set_load(0)

    async def wait_closed(self, timeout: float = 30.0) -> None:
        await until(lambda: self.model.closed_limit and self.model.motion == "idle", timeout, "the barrier closed")

    async def wait_state(self, state: State, timeout: float = 30.0) -> None:
        await until(lambda: self.station.lane.state is state, timeout, f"lane state {state.value}")

    # -- the oracle ---------------------------------------------------------------------------
    def transactions(self) -> list[dict]:
        return self.platform.ledger.bodies("gate_transaction", LANE)

    def lane_events(self, what: str | None = None) -> list[dict]:
        events = self.platform.ledger.bodies("lane_event", LANE)
        return [e for e in events if what is None or e["what"] == what]

    def verify_requests(self) -> list[dict]:
        return self.platform.ledger.bodies("gate_verify", LANE)

    async def wait_transactions(self, n: int = 1, timeout: float = 30.0) -> list[dict]:
        await until(lambda: len(self.transactions()) >= n, timeout, f"{n} gate_transaction record(s) at the platform")
        return self.transactions()

    def unsafe_closings(self) -> list:
        """Barrier movements downwards (or a close coil) while something was under it."""
        return [m for m in self.rig.audit() if m.what == "closing" and (m.safety or m.photocell_broken or m.estop)]

    def moved(self) -> list[str]:
        return [m.what for m in self.rig.audit()]
