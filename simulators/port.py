"""The simulated port: a scenario played against real agents, real protocols and a real broker.

    broker (mosquitto, or the embedded amqtt) <-- FaultProxy <-- lane nodes (child processes)
                                               <-- FaultProxy <-- PDA nodes (in this process)
    PlatformSim (ledger, answers, orders) ---> broker (directly: faults hit the nodes' side)
    LaneRig per lane: gate controller, scale, cameras (firmware stubs) + one truck at a time
    ForkliftDriver per PDA: logs in, works tasks on the board

`PortSim.run()` plays the timeline (trucks, inspection orders, faults), then drains and
audits: every gate transaction and task update delivered exactly once after dedupe, no
unexplained seq gap, every barrier movement safe. The demo and the end-to-end test both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.clock import SYSTEM_CLOCK
from agent.config import parse
from agent.runtime import NodeRuntime
from simulators.embedded_broker import EmbeddedBroker
from simulators.faults import FaultProxy
from simulators.faults.commands import bad_commands
from simulators.forklift import ForkliftDriver
from simulators.lane_rig import LaneRig
from simulators.mosquitto import Mosquitto
from simulators.people_traffic import TurnstileLane, choose
from simulators.platform import PlatformSim, Preadvice
from simulators.platform.orders import OrderBook, Truck
from simulators.scenario import Happening, Scenario

log = logging.getLogger(__name__)

Broker = Mosquitto | EmbeddedBroker


@dataclass
class PortState:
    """What the live view shows; updated by the run, read by the view."""

    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    faults_active: set[str] = field(default_factory=set)
    faults_done: list[str] = field(default_factory=list)
    trucks_queued: Counter = field(default_factory=Counter)
    orders: int = 0
    cancels: int = 0
    reassigns: int = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class PortSim:
    def __init__(self, scenario: Scenario, workdir: Path, *, broker: Broker | str | None = None,
                 on_tick: Callable[[PortSim], None] | None = None, drain_s: float = 30.0):
        self.scenario = scenario
        self.workdir = Path(workdir)
        self.rng = random.Random(scenario.seed)
        self.book = OrderBook(random.Random(scenario.seed + 1))
        self._broker_arg = broker
        self.on_tick = on_tick
        self.drain_s = drain_s
        self.state = PortState()
        self.lanes: dict[str, LaneRig] = {}
        self.pdas: dict[str, NodeRuntime] = {}
        self.turnstiles: dict[str, TurnstileLane] = {}
        self.drivers: dict[str, ForkliftDriver] = {}
        self.notes: list[str] = []
        self._tasks: list[asyncio.Task] = []
        self._queues: dict[str, asyncio.Queue[Truck]] = {}
        self._task_owner: dict[str, str] = {}
        self._pda_stop = asyncio.Event()
        #: a PDA outside the scenario (the demo's Kivy window) that gets every third order
        self.gui_pda: str | None = None
        #: config appended to the first lane's (the demo's booth console: a [console] section)
        self.first_lane_toml = ""

    # -- set-up -----------------------------------------------------------------------------
    async def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        arg = self._broker_arg
        if arg is None:
            self.broker: Broker | None = EmbeddedBroker().start()
        else:
            self.broker = arg if not isinstance(arg, str) else None
        self.broker_url = arg if isinstance(arg, str) else self.broker.url
        self.mqtt_version = "3.1.1" if isinstance(self.broker, EmbeddedBroker) else "5"
        host, port = self.broker_url.split("://", 1)[1].rsplit(":", 1)
        self.proxy = FaultProxy(host, int(port)).start()
        self.platform = PlatformSim(self.broker_url, self.scenario.site, answer_delay_s=self.scenario.platform_delay_s,
                                    rng=random.Random(self.scenario.seed + 2), mqtt_version=self.mqtt_version,
                                    ledger=None).start()
        for lane in self.scenario.lane_ids:
            rig = LaneRig(lane, self.scenario.site, self.workdir / lane, self.proxy.url,
                          random.Random(self.rng.random()), mqtt_version=self.mqtt_version,
                          misread_rate=self.scenario.traffic.misread_rate,
                          extra_toml=self.first_lane_toml if lane == self.scenario.lane_ids[0] else "")
            self.lanes[lane] = await rig.start()
            rig.spawn()
            self._queues[lane] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._lane_worker(lane), name=f"trucks-{lane}"))
        for i, pda in enumerate(self.scenario.pda_ids):
            await self._start_pda(pda, i)
        for node in self.scenario.turnstile_ids:
            turnstile = TurnstileLane(node, self.scenario.site, self.workdir / node, self.proxy.url, self.platform,
                                      random.Random(self.rng.random()), mqtt_version=self.mqtt_version)
            self.turnstiles[node] = await turnstile.start()
            self._tasks.append(asyncio.create_task(turnstile.work(), name=f"people-{node}"))

    async def _start_pda(self, pda: str, i: int) -> None:
        folder = self.workdir / pda
        folder.mkdir(parents=True, exist_ok=True)
        config = parse(f"""
[node]
id = "{pda}"
site = "{self.scenario.site}"
role = "pda"
heartbeat_s = 2
[broker]
url = "{self.proxy.url}"
mqtt_version = "{self.mqtt_version}"
reconnect_base_s = 0.2
reconnect_cap_s = 2.0
keepalive_s = 10
[storage]
path = "{folder / (pda + '.db')}"
[pda]
pin_hash_n = 1024
""", f"<{pda}>")
        node = NodeRuntime(config, clock=SYSTEM_CLOCK, rng=random.Random(self.rng.random()))
        await node.start()
        self.pdas[pda] = node
        badge = f"D{1001 + i}"
        self.platform.add_driver(badge, "4711", ["王师傅", "李师傅", "张师傅", "陈师傅"][i % 4])
        driver = ForkliftDriver(node.board, badge=badge, pin="4711", rng=random.Random(self.rng.random()))
        self.drivers[pda] = driver
        self._tasks.append(asyncio.create_task(driver.work(), name=f"forklift-{pda}"))

    def _plan_trucks(self) -> None:
        """Every truck of the run is known up front (from the seed): pre-advice and permits too."""
        t = self.scenario.traffic
        self._trucks: dict[tuple[float, str], Truck] = {}
        permits: dict[str, list] = {lane: [] for lane in self.lanes}
        now = SYSTEM_CLOCK.now()
        for h in self.timeline:
            if h.what != "truck":
                continue
            truck = self.book.truck(t.mix, t.permit_coverage, t.deny_rate)
            self._trucks[(h.at_s, h.target or "")] = truck
            if truck.pre_advised:
                self.platform.add_preadvice(Preadvice(truck.plate, truck.containers, truck.type, truck.yard_position,
                                                      allow=not truck.refused, reason="customs hold" if truck.refused else ""))
                if not truck.refused:
                    permits[h.target or ""].append(self.book.permit(truck, now, len(self._trucks)))
        for lane, items in permits.items():
            self.platform.push_permits(lane, version=1, permits=items, ttl_s=120)
        self._people = {(h.at_s, h.target): self.turnstiles[h.target or ""].plan(
            choose(self.rng, self.scenario.people.mix)) for h in self.timeline if h.what == "person"}
        for turnstile in self.turnstiles.values():
            turnstile.push_allow_list()

    # -- the run ----------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        self.timeline = self.scenario.timeline(random.Random(self.scenario.seed))
        try:
            await self._start()
            await self._settle()
            self._plan_trucks()  # commands to a node that never connected would be lost: after the births
            self.state.phase = "running"
            self.state.started = time.monotonic()
            ticker = asyncio.create_task(self._ticker())
            for happening in self.timeline:
                delay = happening.at_s - self.state.elapsed
                if delay > 0:
                    await asyncio.sleep(delay)
                self._happen(happening)
            await asyncio.sleep(max(0.0, self.scenario.duration_s - self.state.elapsed))
            self.state.phase = "draining"
            await self._drain()
            ticker.cancel()
            self.state.phase = "done"
            return await self._finish()
        finally:
            await self._teardown()

    async def _settle(self, timeout: float = 20.0) -> None:
        """Wait until every node said it is online (retained birth state)."""
        nodes = set(self.lanes) | set(self.pdas) | set(self.turnstiles)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            online = {n for n, s in self.platform.node_states.items() if s.get("body", s).get("status") == "online"}
            if nodes <= online:
                return
            await asyncio.sleep(0.1)
        self.notes.append(f"not every node was online after {timeout}s: {sorted(nodes)}")

    async def _ticker(self) -> None:
        while True:
            if self.on_tick:
                self.on_tick(self)
            await asyncio.sleep(0.5)

    def _happen(self, h: Happening) -> None:
        if h.what == "truck":
            truck = self._trucks[(h.at_s, h.target or "")]
            self.state.trucks_queued[h.target] += 1
            self._queues[h.target].put_nowait(truck)
        elif h.what == "person":
            self.turnstiles[h.target or ""].queue.put_nowait(self._people[(h.at_s, h.target)])
        elif h.what == "order":
            self._order(h.target or "")
        else:
            self._tasks.append(asyncio.create_task(self._fault(h), name=f"fault-{h.what}"))

    async def _lane_worker(self, lane: str) -> None:
        rig, queue = self.lanes[lane], self._queues[lane]
        while True:
            truck = await queue.get()
            try:
                await rig.drive(truck)
            except Exception:
                log.exception("truck %s at %s", truck.plate, lane)
            finally:
                self.state.trucks_queued[lane] -= 1

    def _order(self, pda: str) -> None:
        self.state.orders += 1
        bay = 1 + self.state.orders % 8
        task = self.book.inspection(SYSTEM_CLOCK.now(), self.state.orders, bay)
        if self.gui_pda and self.state.orders % 3 == 0:
            pda = self.gui_pda
        self._task_owner[task.task_id] = pda
        self.platform.assign_task(pda, task)
        roll = self.rng.random()
        orders = self.scenario.orders
        if roll < orders.cancel_rate:
            asyncio.get_running_loop().call_later(3.0, self._cancel, task.task_id)
        elif roll < orders.cancel_rate + orders.reassign_rate and len(self.pdas) > 1:
            asyncio.get_running_loop().call_later(3.0, self._reassign, task)

    def _cancel(self, task_id: str) -> None:
        self.state.cancels += 1
        self.platform.cancel_task(self._task_owner[task_id], task_id, "cancelled", "customs released the hold")

    def _reassign(self, task) -> None:
        old = self._task_owner[task.task_id]
        choices = [p for p in self.pdas if p != old]
        if not choices:
            return
        new = self.rng.choice(choices)
        self.state.reassigns += 1
        self.platform.cancel_task(old, task.task_id, "reassigned", f"moved to {new}")
        self._task_owner[task.task_id] = new
        self.platform.assign_task(new, task)

    # -- faults -----------------------------------------------------------------------------
    async def _fault(self, h: Happening) -> None:
        label = f"{h.what}{' ' + h.target if h.target else ''}"
        self.state.faults_active.add(label)
        try:
            if h.what == "platform_silence":
                self.platform.silent = True
                await asyncio.sleep(h.duration_s)
                self.platform.silent = False
            elif h.what == "broker_restart":
                await self._restart_broker(h.duration_s)
            elif h.what == "network_cut":
                self.proxy.reset()
            elif h.what == "network_stall":
                self.proxy.stall()
                await asyncio.sleep(h.duration_s)
                self.proxy.resume()
            elif h.what == "serial_unplug" and h.target and ":" in h.target:  # <turnstile node>:id-1
                line = self.turnstiles[h.target.split(":")[0]].rig.id_line
                line.unplug()
                await asyncio.sleep(h.duration_s)
                line.replug()
            elif h.what in ("serial_unplug", "serial_garbage"):
                rig = self.lanes[self.scenario.lane_ids[0]]
                if h.what == "serial_garbage":
                    rig.scale_line.inject(bytes(self.rng.randrange(256) for _ in range(200)))
                else:
                    rig.scale_line.unplug()
                    await asyncio.sleep(h.duration_s)
                    rig.scale_line.replug()
            elif h.what == "bad_commands":
                node = h.target or self.scenario.lane_ids[0]
                await bad_commands(self.platform.publish_raw, self.scenario.site, node,
                                   "gate" if node in self.lanes else "pda")
            elif h.what == "agent_kill":
                rig = self.lanes[h.target or self.scenario.lane_ids[0]]
                rig.kill()
                await asyncio.sleep(h.duration_s)
                rig.spawn()
        finally:
            self.state.faults_active.discard(label)
            self.state.faults_done.append(f"{h.at_s:.0f}s {label}")

    async def _restart_broker(self, down_s: float) -> None:
        if isinstance(self.broker, Mosquitto):
            await asyncio.to_thread(self.broker.stop)
            await asyncio.sleep(down_s)
            await asyncio.to_thread(self.broker.start)
        elif isinstance(self.broker, EmbeddedBroker):
            port = self.broker.port
            await asyncio.to_thread(self.broker.stop)
            await asyncio.sleep(down_s)
            self.broker = await asyncio.to_thread(EmbeddedBroker(port=port).start)
        else:
            self.notes.append("broker_restart skipped: the broker was given by URL")

    # -- the end ----------------------------------------------------------------------------
    async def _drain(self) -> None:
        """Let the last trucks through, then wait until every node's outbox is empty."""
        deadline = time.monotonic() + self.drain_s
        while time.monotonic() < deadline and any(q.qsize() or self.state.trucks_queued[lane]
                                                   for lane, q in self._queues.items()):
            await asyncio.sleep(0.2)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for pda in self.pdas.values():
            await pda.board.flush()
        await self._wait_drained()
        for rig in self.lanes.values():
            rig.stop_node()

    def _depths(self) -> dict[str, int]:
        """Rows still waiting in each node's outbox (lanes: read from their SQLite files)."""
        depths = {pda: node.outbox.stats().depth for pda, node in self.pdas.items()}
        depths |= {t: lane.node.outbox.stats().depth for t, lane in self.turnstiles.items() if lane.node}
        for lane, rig in self.lanes.items():
            try:
                with contextlib.closing(sqlite3.connect(f"file:{rig.workdir / (lane + '.db')}?mode=ro", uri=True,
                                                        timeout=1)) as db:
                    depths[lane] = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            except sqlite3.Error:
                depths[lane] = -1
        return depths

    async def _wait_drained(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            depths = self._depths()
            if all(d == 0 for d in depths.values()):
                await asyncio.sleep(0.5)  # the last PUBACKed rows are at the platform by now
                return
            await asyncio.sleep(0.2)
        self.notes.append(f"outboxes not empty after {timeout}s: {self._depths()}")

    async def _finish(self) -> dict[str, Any]:
        from simulators.report import summarise

        return summarise(self)

    async def _teardown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for rig in self.lanes.values():  # every lane node stops at once, not one after another
            if rig.proc is not None and rig.proc.poll() is None:
                rig.proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*(pda.close() for pda in self.pdas.values()), return_exceptions=True)
        await asyncio.gather(*(t.close() for t in self.turnstiles.values()), return_exceptions=True)
        await asyncio.gather(*(rig.stop() for rig in self.lanes.values()), return_exceptions=True)
        if hasattr(self, "platform"):
            self.platform.stop()
        if hasattr(self, "proxy"):
            self.proxy.stop()
        if isinstance(self.broker_arg_owned(), EmbeddedBroker):
            self.broker.stop()

    def broker_arg_owned(self) -> Broker | None:
        """The broker this run started itself (the embedded one), which it must stop."""
        return self.broker if self._broker_arg is None and hasattr(self, "broker") else None
