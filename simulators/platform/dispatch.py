"""The platform's forklift desk, simulated: a roster of drivers the platform logs in, and a
dispatcher that assigns TO_INSPECTION tasks to the PDAs it sees online, so a PDA (the real app
or a test) can be tried against the platform simulator alone (`portedge sim pda`).

Drivers are D0001, D0002, ... with the PIN `DRIVER_PIN`; docs/pda.md gives them. Tasks are
made from a seeded Random (same seed, same tasks): a valid air waybill, its pieces labelled
`<awb>-001`.., a storage location of the examples' terminal and an inspection bay. A PDA is
"seen online" by its retained state (role pda, status online); a task goes to one PDA at a
time, round robin. Never invents a PDA: a command to a node nobody has seen would be lost.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import timedelta

from agent.contract.tasks import Task
from simulators.platform.sim import PlatformSim

DRIVER_PIN = "1234"
NAMES = ("王师傅", "李师傅", "张师傅", "刘师傅", "陈师傅", "杨师傅", "赵师傅", "黄师傅", "周师傅", "吴师傅")
AIRLINES = ("176", "020", "999", "784", "160")  # Emirates, Lufthansa, Air China, China Southern, Cathay
BAYS = tuple(f"BAY-{n:02d}" for n in range(1, 9))


@dataclass(frozen=True)
class Driver:
    badge: str
    pin: str
    name: str


def roster(count: int) -> list[Driver]:
    """D0001.. with the documented PIN; names from a list, numbered past its end."""
    out = []
    for i in range(count):
        name = NAMES[i % len(NAMES)] + (f" {i // len(NAMES) + 1}" if i >= len(NAMES) else "")
        out.append(Driver(f"D{i + 1:04d}", DRIVER_PIN, name))
    return out


def add_drivers(sim: PlatformSim, count: int) -> list[Driver]:
    drivers = roster(count)
    for d in drivers:
        sim.add_driver(d.badge, d.pin, d.name)
    return drivers


def awb(rng: random.Random) -> str:
    """An IATA air waybill number: prefix + 7-digit serial + (serial mod 7)."""
    serial = rng.randrange(1_000_000, 10_000_000)
    return f"{rng.choice(AIRLINES)}{serial}{serial % 7}"


class Dispatcher:
    def __init__(self, sim: PlatformSim, rng: random.Random | None = None):
        self.sim = sim
        self.rng = rng or random.Random(1)
        self._numbers = itertools.count(1)
        self._turn = 0
        self.assigned: list[tuple[str, Task]] = []

    def pdas_online(self) -> list[str]:
        """PDAs whose retained state (an envelope; the NodeState is its body) says online."""
        states = {node: (s.get("body") or {}) for node, s in dict(self.sim.node_states).items() if isinstance(s, dict)}
        return sorted(node for node, state in states.items()
                      if state.get("role") == "pda" and state.get("status") == "online")

    def make_task(self) -> Task:
        rng = self.rng
        number = next(self._numbers)
        waybill = awb(rng)
        zone = rng.choice("ABC")
        return Task(task_id=f"T-{number:04d}", kind="TO_INSPECTION", priority=rng.randint(1, 5),
                    due_by=self.sim.clock.now() + timedelta(minutes=rng.randint(20, 60)), awb=waybill,
                    pieces=rng.randint(1, 3),
                    source_location=f"{zone}-{rng.randint(1, 9):02d}-{rng.randint(1, 20):02d}-{rng.randint(1, 4)}",
                    destination=rng.choice(BAYS), customs_ref=f"CUS-{self.sim.clock.now():%Y}-{number:04d}")

    def dispatch(self) -> tuple[str, Task] | None:
        """Assign one new task to the next PDA online; None when no PDA is online."""
        nodes = self.pdas_online()
        if not nodes:
            return None
        node = nodes[self._turn % len(nodes)]
        self._turn += 1
        task = self.make_task()
        self.sim.assign_task(node, task)
        self.assigned.append((node, task))
        return node, task


def describe(node: str, task: Task) -> str:
    """One line a person trying the PDA can follow with a keyboard (the wedge reads Enter)."""
    labels = ", ".join(f"{task.awb}-{i:03d}" for i in range(1, task.pieces + 1))
    return (f"{task.task_id} -> {node}: accept, scan {task.source_location}, then {labels}, "
            f"then {task.destination}")
