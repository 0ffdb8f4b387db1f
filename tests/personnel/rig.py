"""A restricted-area lane for end-to-end scenarios: the ID card reader and badge converter stubs
on real ptys, the turnstile stub as a real Modbus RTU peer on a pty pair (null-modem), a lane
node in-process, a real mosquitto, the platform simulator (whose ledger is the oracle) and a
sniffer subscribed to everything on the broker (for the privacy scan).

Never: assert on wall-clock durations here; waits have generous deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from agent.clock import SYSTEM_CLOCK
from agent.config import parse
from agent.contract.personnel import AllowEntry, AllowListSync
from agent.personnel.privacy import SiteKey
from agent.runtime import NodeRuntime
from simulators.people_rig import PeopleRig
from simulators.platform import PlatformSim

NODE, SITE, AREA = "apron-1", "e2e", "apron"


async def until(predicate, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


class Sniffer:
    """Every payload published on the broker, raw (one paho thread)."""

    def __init__(self, url: str):
        port = int(url.rsplit(":", 1)[1])
        self.payloads: list[bytes] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="privacy-sniffer")
        self.client.on_connect = lambda c, *a: c.subscribe("#", qos=1)
        self.client.on_message = lambda c, u, msg: self.payloads.append(bytes(msg.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class PeopleSetup:
    workdir: Path
    url: str
    rig: PeopleRig
    key: SiteKey
    node: NodeRuntime | None = None
    platform: PlatformSim | None = None
    sniffer: Sniffer | None = None
    log_path: Path | None = None
    _handler: logging.Handler | None = None

    @classmethod
    async def open(cls, url: str, workdir: Path, **personnel: Any) -> PeopleSetup:
        rig = PeopleRig(NODE, SITE, workdir, url, area=AREA, personnel=personnel)
        setup = cls(workdir, url, rig, SiteKey(bytes.fromhex(rig.key_hex)))
        try:
            await setup._start()
        except BaseException:
            await setup.close()
            raise
        return setup

    @property
    def reader(self):
        return self.rig.reader

    @property
    def badges(self):
        return self.rig.badges

    @property
    def turnstile(self):
        return self.rig.turnstile

    @property
    def id_line(self):
        return self.rig.id_line

    async def _start(self) -> None:
        self.log_path = self.workdir / "agent.log"
        self._handler = logging.FileHandler(self.log_path, encoding="utf-8")
        self._handler.setLevel(logging.DEBUG)
        root, agent = logging.getLogger(), logging.getLogger("agent")
        root.addHandler(self._handler)
        self._old_level = agent.level
        agent.setLevel(logging.DEBUG)  # everything the agent says, at every level, lands in the file
        logging.getLogger("pymodbus").setLevel(logging.WARNING)  # its per-frame DEBUG drowns the rest
        self.sniffer = Sniffer(self.url)
        self.platform = await asyncio.to_thread(PlatformSim(self.url, SITE, rng=random.Random(3)).start)
        await self.rig.start()
        config = parse(self.rig.config_path.read_text(encoding="utf-8"), str(self.rig.config_path))
        self.node = NodeRuntime(config, clock=SYSTEM_CLOCK, rng=random.Random(7))
        await self.node.start()
        await until(lambda: self.node.link.connected, 10, "the link to connect")
        await until(lambda: all(d.state == "online" for d in self.node.drivers), 15, "every device online")
        await until(lambda: self.people.lane.counter is not None, 10, "the first turnstile snapshot")

    async def close(self) -> None:
        if self.node is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.node.close(), 60)
            self.node = None
        await self.rig.stop()
        if self.platform is not None:
            await asyncio.to_thread(self.platform.stop)
            self.platform.ledger.close()
        if self.sniffer is not None:
            self.sniffer.stop()
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            logging.getLogger("agent").setLevel(self._old_level)
            self._handler.close()

    @property
    def people(self):
        assert self.node is not None and self.node.people is not None
        return self.node.people

    # -- the platform's side ---------------------------------------------------------------------
    def person_key(self, number: str) -> str:
        return self.key.person_key("id_card", number)

    def grant(self, number: str) -> None:
        self.platform.area_passes.setdefault(self.person_key(number), set()).add(AREA)

    def badge_key(self, facility: int, card: int) -> str:
        return self.key.person_key("badge", f"{facility}-{card}")

    async def push_allow_list(self, version: int, keys: list[str], blocked: list[str] = ()) -> None:
        now = SYSTEM_CLOCK.now()
        body = AllowListSync(version=version, blocked=list(blocked), entries=[
            AllowEntry(person_key=k, areas=[AREA], valid_from=now - timedelta(hours=1),
                       valid_until=now + timedelta(hours=8)) for k in keys])
        cid = self.platform.send_command(NODE, "allow_list_sync", body)
        answer = await asyncio.to_thread(self.platform.wait_response, cid, 10.0)
        assert answer is not None and answer["ok"], answer

    # -- the oracle --------------------------------------------------------------------------------
    def passages(self) -> list[dict]:
        return self.platform.ledger.bodies("person_passage", NODE)

    def alarms(self) -> list[dict]:
        return self.platform.ledger.bodies("person_alarm", NODE)

    async def wait_passages(self, n: int, timeout: float = 20.0) -> list[dict]:
        await until(lambda: len(self.passages()) >= n, timeout, f"{n} person_passage record(s) at the platform")
        return self.passages()

    async def present(self, fields: dict[str, str]) -> None:
        """A card is laid on the reader (taken away first if one lay there)."""
        self.reader.remove()
        self.reader.present(fields)

    async def walk_when_unlocked(self, people: int = 1, timeout: float = 15.0) -> None:
        await until(lambda: self.turnstile.model.unlocked, timeout, "the turnstile to unlock")
        self.turnstile.model.walk(people)

