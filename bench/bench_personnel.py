"""Benchmark: the personnel lane agent's own share of "card data complete -> turnstile unlock
write", through the firmware stubs (ID card reader on a pty, turnstile as a Modbus RTU peer
on a pty pair) and a mosquitto it starts.

    .venv/bin/python bench/bench_personnel.py [--people 40] [--seed 5]

One turnstile node runs in this process, on this loop. Timing shims (here, not in product
code) wrap three seams:
- the station's `emit`: when the reader driver hands over a complete card (card data
  complete: the 1,295-byte reply decoded);
- the station's requester: when person_verify is handed to the link, and when the answer
  comes back;
- the turnstile driver's `unlock`: when the unlock coil write starts.
Two runs of the same path, one after the other in the same process:
- live: the platform simulator answers over loopback mosquitto; the agent's share is
  (card -> request handed to the link) + (answer back -> unlock write starts);
- injected (the baseline): the requester answers at once in-process, so the agent's share is
  card -> unlock write with no network in between.
Reported: p50/p99 of each in ms (goal: p99 <= 5 ms), the ratio of the two medians, and for
scale the platform round trip. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clock import SYSTEM_CLOCK  # noqa: E402
from agent.codecs.sam import CardRead  # noqa: E402
from agent.config import parse  # noqa: E402
from agent.contract.envelope import Response  # noqa: E402
from agent.contract.personnel import PersonVerifyAnswer  # noqa: E402
from agent.personnel.events import State  # noqa: E402
from agent.personnel.privacy import SiteKey  # noqa: E402
from agent.runtime import NodeRuntime  # noqa: E402
from firmware_stubs.idcard_reader import SAMPLE_CARD  # noqa: E402
from simulators.mosquitto import Mosquitto  # noqa: E402
from simulators.people_rig import PeopleRig  # noqa: E402
from simulators.platform import PlatformSim  # noqa: E402

SITE, NODE, AREA = "bench", "apron-1", "apron"


class Marks:
    def __init__(self) -> None:
        self.card = self.asked = self.answered = self.unlock = 0.0
        self.rows: list[dict[str, float]] = []


class Injected:
    """The platform answer injected: allow at once, no network."""

    async def request(self, name: str, body: Any, timeout: float) -> Response:
        return Response[Any](node="platform", type=name, correlation_id="bench", ok=True,
                             body=PersonVerifyAnswer(pass_id=body.pass_id, allow=True).model_dump(mode="json"))


def install_shims(node: NodeRuntime, marks: Marks, requester: Any) -> None:
    station = node.people
    emit = station.emit

    async def timed_emit(device, event):
        if isinstance(event, CardRead):
            marks.card = time.perf_counter()
        await emit(device, event)

    station.emit = timed_emit

    class TimedRequester:
        async def request(self, name, body, timeout):
            marks.asked = time.perf_counter()
            try:
                return await requester.request(name, body, timeout)
            finally:
                marks.answered = time.perf_counter()

    station.requester = TimedRequester()
    turnstile = station.turnstile
    unlock = turnstile.unlock

    async def timed_unlock():
        marks.unlock = time.perf_counter()
        await unlock()

    turnstile.unlock = timed_unlock


async def one_run(broker: Mosquitto, workdir: Path, people: int, seed: int, injected: bool) -> list[dict[str, float]]:
    rig = PeopleRig(NODE, SITE, workdir, broker.url, area=AREA, rng=random.Random(seed),
                    personnel={"tailgate_watch_s": 0.05, "verify_s": 2.0})
    platform = await asyncio.to_thread(PlatformSim(broker.url, SITE, rng=random.Random(seed)).start)
    await rig.start()
    key = SiteKey(bytes.fromhex(rig.key_hex))
    platform.area_passes[key.person_key("id_card", SAMPLE_CARD["id_number"])] = {AREA}
    node = NodeRuntime(parse(rig.config_path.read_text(encoding="utf-8"), str(rig.config_path)),
                       clock=SYSTEM_CLOCK, rng=random.Random(seed))
    marks = Marks()
    try:
        await node.start()
        await until(lambda: node.link.connected and all(d.state == "online" for d in node.drivers), 20)
        await until(lambda: node.people.lane.counter is not None, 10)
        install_shims(node, marks, Injected() if injected else node.link)
        for _ in range(people + 3):  # the first 3 warm up
            marks.card = marks.asked = marks.answered = marks.unlock = 0.0
            rig.reader.remove()
            rig.reader.present(SAMPLE_CARD)
            await until(lambda: rig.turnstile.model.unlocked, 10)
            rig.turnstile.model.walk()
            await until(lambda: node.people.lane.state is State.IDLE and not rig.turnstile.model.unlocked, 10)
            marks.rows.append({
                "to_request": marks.asked - marks.card, "answer_to_unlock": marks.unlock - marks.answered,
                "platform": marks.answered - marks.asked, "total": marks.unlock - marks.card,
            })
        return marks.rows[3:]
    finally:
        await node.close()
        await rig.stop()
        await asyncio.to_thread(platform.stop)
        platform.ledger.close()


async def until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("bench step did not complete")
        await asyncio.sleep(0.002)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its frame traces are not figures
    logging.getLogger("agent").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(workdir=Path(tmp) / "mosquitto")
        (Path(tmp) / "mosquitto").mkdir()
        broker.start()
        try:
            live = asyncio.run(one_run(broker, Path(tmp) / "live", args.people, args.seed, injected=False))
            base = asyncio.run(one_run(broker, Path(tmp) / "injected", args.people, args.seed, injected=True))
        finally:
            broker.close()
    share = [r["to_request"] + r["answer_to_unlock"] for r in live]
    base_share = [r["total"] for r in base]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.people} presentations per run, seed {args.seed}; load average {load} on {os.cpu_count()} cores; ms")
    print(f"{'':44} {'p50':>7} {'p90':>7} {'p99':>7}")
    for label, values in (
        ("live: card -> person_verify to the link", [r["to_request"] for r in live]),
        ("live: answer back -> unlock write starts", [r["answer_to_unlock"] for r in live]),
        ("live: agent's share (sum of the two)", share),
        ("injected: card -> unlock write (baseline)", base_share),
        ("live: platform round trip (for scale)", [r["platform"] for r in live]),
        ("live: card -> unlock write, all in", [r["total"] for r in live]),
    ):
        print(f"{label:44} {pct(values, 50):7.2f} {pct(values, 90):7.2f} {pct(values, 99):7.2f}")
    ratio = statistics.median(share) / statistics.median(base_share)
    print(f"agent's share live / injected baseline (medians): {ratio:.2f}x; goal p99 <= 5 ms: "
          f"{'met' if pct(share, 99) <= 5.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
