"""Benchmark: the gate lane agent's own overhead on the decision path, through the firmware
stubs (Modbus RTU over a pty pair, Toledo on a pty, HTTP cameras) and a mosquitto it starts.

    .venv/bin/python bench/bench_gate.py [--trucks 40] [--seed 5]

One lane node runs in this process, on this loop, against a PlatformSim that answers at once.
Timing shims (here, not in product code) wrap three seams:
- `NodeRuntime.emit` / `GateStation.emit`: when a camera read reaches the node (before its
  outbox commit) and the lane (after it);
- the station's requester (`Link.request`): when gate_verify is handed to the link, and when
  the platform's answer comes back;
- the gate_io driver's `set_outputs`: when the barrier-open write starts, and when the module
  has acknowledged it.
Each truck stands on the weighbridge with a stable weight before the cameras read, so the last
read is what completes identification. Reported, p50/p99 in ms:
- last read reaching the node -> verify request to the link   (goal: p99 < 5 ms)
- platform answer received -> barrier-open Modbus write starts (goal: p99 < 5 ms)
and, for scale, in the same run: the Modbus coil write round trip itself, and the platform
round trip (request -> answer) over loopback mosquitto. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clock import SYSTEM_CLOCK  # noqa: E402
from agent.config import parse  # noqa: E402
from agent.contract.devices import CameraRead  # noqa: E402
from agent.gate.events import State  # noqa: E402
from agent.runtime import NodeRuntime  # noqa: E402
from simulators.lane_rig import LaneRig  # noqa: E402
from simulators.mosquitto import Mosquitto  # noqa: E402
from simulators.platform import PlatformSim, Preadvice  # noqa: E402
from simulators.platform.orders import container_number, plate  # noqa: E402

SITE, LANE = "bench", "lane-1"


class Marks:
    """Per-transaction timestamps (perf_counter) from the shims."""

    def __init__(self) -> None:
        self.read_at_node = 0.0
        self.read_at_lane = 0.0
        self.rows: list[dict[str, float]] = []
        self.current: dict[str, float] = {}


def install_shims(node: NodeRuntime, marks: Marks) -> None:
    station = node.station
    node_emit, station_emit = node.emit, station.emit

    async def timed_node_emit(device, event):
        if isinstance(event, CameraRead):
            marks.read_at_node = time.perf_counter()
        await node_emit(device, event)

    async def timed_station_emit(device, event):
        if isinstance(event, CameraRead):
            marks.read_at_lane = time.perf_counter()
        await station_emit(device, event)

    # the drivers hold the runtime as their sink; the runtime calls the station's emit
    node.emit = timed_node_emit
    for driver in node.drivers:
        driver.sink = node
    station.emit = timed_station_emit

    link = station.runner.requester

    class TimedRequester:
        async def request(self, name, body, timeout):
            t = time.perf_counter()
            marks.current = {"read_node": marks.read_at_node, "read_lane": marks.read_at_lane, "request": t}
            response = await link.request(name, body, timeout)
            marks.current["answer"] = time.perf_counter()
            return response

    station.runner.requester = TimedRequester()
    io = station.runner.port
    set_outputs = io.set_outputs

    async def timed_set_outputs(**outputs):
        opening = outputs.get("barrier_open") and "answer" in marks.current and "write" not in marks.current
        t = time.perf_counter()
        await set_outputs(**outputs)
        if opening:
            marks.current["write"], marks.current["write_acked"] = t, time.perf_counter()
            marks.rows.append(marks.current)

    io.set_outputs = timed_set_outputs


async def until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.005)


async def one_truck(rig: LaneRig, node: NodeRuntime, platform: PlatformSim, rng: random.Random) -> None:
    station, model = node.station, rig.controller.model
    truck_plate, box = plate(rng), container_number(rng)
    platform.add_preadvice(Preadvice(truck_plate, [box], "DI", "B-01-01"))
    model.truck_arrives()
    rig.indicator.set_load(30000.0)
    await until(lambda: station.lane.state is State.ARRIVED, 10, "arrival")
    await until(lambda: station.lane.tx is not None and station.lane.tx.weight is not None, 10, "stable weight")
    for camera, text, target, position in (("cam-plate", truck_plate, "plate", "front"),
                                           ("cam-front", box, "container", "front"),
                                           ("cam-rear", box, "container", "rear")):
        await asyncio.to_thread(rig.cameras[camera].post, {"text": text, "confidence": 0.95, "target": target,
                                                           "position": position})
    await until(lambda: model.open_limit, 10, "barrier open")
    model.truck_under_barrier()
    rig.indicator.set_load(0)
    await asyncio.sleep(0.1)
    model.truck_leaves()
    await asyncio.sleep(0.1)
    model.truck_gone()
    await until(lambda: model.closed_limit and station.lane.state is State.IDLE, 10, "barrier closed")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(trucks: int, seed: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        work = Path(tmp)
        (work / "mosq").mkdir()
        broker = Mosquitto(workdir=work / "mosq").start()
        platform = PlatformSim(broker.url, SITE, rng=random.Random(seed)).start()
        rig = LaneRig(LANE, SITE, work / LANE, broker.url, random.Random(seed), misread_rate=0.0, travel_s=0.05,
                      settle_s=0.2, gate={"holdoff_s": 0.1, "debounce_s": 0.2, "verify_s": 2.0})
        await rig.start()
        config = parse(rig.config_path.read_text(), str(rig.config_path))
        node = NodeRuntime(config, clock=SYSTEM_CLOCK, rng=random.Random(seed))
        marks = Marks()
        install_shims(node, marks)
        try:
            await node.start()
            await until(lambda: node.link.connected and node.station.guard.inputs is not None
                        and all(d.state == "online" for d in node.drivers), 20, "lane ready")
            for _ in range(trucks):
                await one_truck(rig, node, platform, rng)
        finally:
            await node.close()
            await rig.stop()
            platform.stop()
            broker.close()
    report(marks.rows, trucks)


def report(rows: list[dict[str, float]], trucks: int) -> None:
    ms = 1000.0

    def series(a: str, b: str) -> list[float]:
        return [(r[b] - r[a]) * ms for r in rows]

    lines = [
        ("last read at node -> verify request (incl. the read's outbox commit)", series("read_node", "request")),
        ("last read at lane -> verify request", series("read_lane", "request")),
        ("platform answer -> barrier-open write starts", series("answer", "write")),
        ("baseline: barrier-open Modbus write round trip (pty, 115200 baud)", series("write", "write_acked")),
        ("baseline: platform round trip (request -> answer, loopback mosquitto)", series("request", "answer")),
    ]
    print(f"gate lane overhead: {len(rows)} transactions of {trucks} trucks")
    print(f"{'measure':72} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in lines:
        print(f"{name:72} {pct(values, 0.5):8.2f} {pct(values, 0.99):8.2f} {max(values, default=float('nan')):8.2f}")
    modbus = statistics.median(series("write", "write_acked")) if rows else float("nan")
    over = pct(series("answer", "write"), 0.99)
    print(f"decision->write p99 as a ratio of the median Modbus write round trip: {over / modbus:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trucks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.trucks, args.seed))
