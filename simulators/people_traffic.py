"""Person traffic at restricted-area turnstiles, for scenarios and the demo.

A scenario with `turnstiles = N` gets N turnstile nodes (`apron-1`..), each a `PeopleRig`
(reader and badge stubs on ptys, the turnstile as a Modbus peer) with its node in-process.
`[people]` says how many people per hour arrive and what kind of person each is:
  valid      a long-term card with an area pass: one unlock, one passage
  dated      a card inside its validity window, with an area pass
  expired    a card past its validity end: refused at the edge
  blacklisted a card the platform refuses (and the offline allow-list blocks)
  tailgating two walk through on one unlock: an alarm
  pulled     the card leaves the field mid-read: "present it again"
  badge      a staff badge with an area pass
Every person's ID number is made from the seed (valid GB 11643 check characters), and the
platform knows only their keys (HMAC under the rig's site key), as the real one would.
Platform silence (a scenario fault) makes the lanes decide from the allow-list pushed at the
start. `reader_unplug` faults target `<node>:id-1`.

Never: used by agent/; never binds anything but loopback.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from agent.clock import SYSTEM_CLOCK
from agent.config import parse
from agent.contract.personnel import AllowEntry, AllowListSync
from agent.personnel.events import State
from agent.personnel.privacy import SiteKey
from agent.runtime import NodeRuntime
from firmware_stubs.idcard_reader import SAMPLE_CARD
from simulators.people_rig import PeopleRig
from simulators.platform import PlatformSim
from simulators.scenario import Kind

log = logging.getLogger(__name__)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random) -> str:
    """A valid GB 11643 number (Beijing Chaoyang area code, a seeded birth date and sequence)."""
    body = f"110105{rng.randint(1960, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class Person:
    kind: Kind
    card: dict[str, str] | None
    badge: tuple[int, int] | None


def choose(rng: random.Random, mix: dict[str, float]) -> Kind:
    kinds = list(mix)
    return rng.choices(kinds, weights=[mix[k] for k in kinds])[0]


class TurnstileLane:
    """One turnstile node with its rig, and the people walking up to it in turn."""

    def __init__(self, node: str, site: str, workdir: Path, broker_url: str, platform: PlatformSim,
                 rng: random.Random, mqtt_version: str = "5"):
        self.node_id, self.platform, self.rng = node, platform, rng
        self.rig = PeopleRig(node, site, workdir, broker_url, rng=random.Random(rng.random()))
        self.key = SiteKey(bytes.fromhex(self.rig.key_hex))
        self.mqtt_version = mqtt_version
        self.node: NodeRuntime | None = None
        self.queue: asyncio.Queue[Person] = asyncio.Queue()
        self.counts: Counter[str] = Counter()
        self._allowed: list[str] = []
        self._blocked: list[str] = []

    async def start(self) -> TurnstileLane:
        # pymodbus dumps its frame history at ERROR on every slow reply; the driver counts
        # those itself (read_failures), and the run's screen is for the port's story
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        await self.rig.start()
        text = self.rig.config_text().replace("[broker]\n", f'[broker]\nmqtt_version = "{self.mqtt_version}"\n', 1)
        self.node = NodeRuntime(parse(text, f"<{self.node_id}>"), clock=SYSTEM_CLOCK, rng=random.Random(self.rng.random()))
        await self.node.start()
        return self

    async def close(self) -> None:
        if self.node is not None:
            await self.node.close()
        await self.rig.stop()

    def push_allow_list(self) -> None:
        now = SYSTEM_CLOCK.now()
        self.platform.send_command(self.node_id, "allow_list_sync", AllowListSync(
            version=1, blocked=self._blocked, entries=[
                AllowEntry(person_key=k, areas=[self.rig.area], valid_from=now - timedelta(hours=1),
                           valid_until=now + timedelta(hours=12)) for k in self._allowed]), ttl_s=120)

    def plan(self, kind: Kind) -> Person:
        """A new person of this kind, made known to the platform (before the run: the
        allow-list pushed at the start holds them)."""
        if kind == "badge":
            badge = (self.rng.randint(1, 255), self.rng.randint(1, 65535))
            self._grant(self.key.person_key("badge", f"{badge[0]}-{badge[1]}"))
            return Person(kind, None, badge)
        card = SAMPLE_CARD | {"id_number": id_number(self.rng)}
        if kind == "dated":
            card |= {"valid_from": "20200101", "valid_until": "20400101"}
        elif kind == "expired":
            card |= {"valid_from": "20100101", "valid_until": "20200101"}
        key = self.key.person_key("id_card", card["id_number"])
        if kind == "blacklisted":
            self.platform.blacklist.add(key)
            self._blocked.append(key)
        elif kind != "expired":
            self._grant(key)
        return Person(kind, card, None)

    def _grant(self, key: str) -> None:
        self.platform.area_passes.setdefault(key, set()).add(self.rig.area)
        self._allowed.append(key)

    async def work(self) -> None:
        while True:
            person = await self.queue.get()
            try:
                await self.walk_up(person)
            except Exception:  # noqa: BLE001 - one person's trouble must not stop the lane
                log.exception("person (%s) at %s", person.kind, self.node_id)
            self.counts[person.kind] += 1

    async def walk_up(self, person: Person) -> None:
        kind, card, badge = person.kind, person.card, person.badge
        people = self.node.people
        await _until(lambda: people.lane.state is State.IDLE, 30)
        unlocks, passes = people.counters["unlocks"], people.lane.counters["passes"]
        if badge is not None:
            self.rig.badges.swipe(*badge)
        else:
            self.rig.reader.remove()
            self.rig.reader.pull_mid_read = kind == "pulled"
            self.rig.reader.present(card)
        await _until(lambda: people.lane.counters["passes"] > passes, 10)  # the lane has the card
        await _until(lambda: people.counters["unlocks"] > unlocks or people.lane.state is State.IDLE, 10)
        if people.counters["unlocks"] > unlocks and await _until(lambda: self.rig.turnstile.model.unlocked, 3,
                                                                  quiet=True):
            self.rig.turnstile.model.walk(2 if kind == "tailgating" else 1)


async def _until(predicate, timeout: float, quiet: bool = False) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            if quiet:
                return False
            raise TimeoutError("person step did not complete")
        await asyncio.sleep(0.02)
    return True
