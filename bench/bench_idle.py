"""Benchmark: what an idle lane node costs — CPU and RSS of a real `portedge run` process
(gate lane on simulated hardware: Modbus polling at 20 Hz, a Toledo stream at 5 Hz, three
camera listeners, the link with heartbeats) against an idle raw paho client process, both
measured from /proc in the same run. A second lane node, the same but serving its booth
console (`[console]`, nobody watching), runs beside the first and is sampled in the same
windows: what the console adds to an idle lane (budget: 5 MB RSS, 0.2 % CPU). A third window
set has one browser-like client watching the console's event stream.

    .venv/bin/python bench/bench_idle.py [--seconds 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulators.demo import console_toml  # noqa: E402
from simulators.lane_rig import LaneRig  # noqa: E402
from simulators.mosquitto import Mosquitto, free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

IDLE_PAHO = """
import sys, time, paho.mqtt.client as mqtt
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="idle-paho")
c.connect("127.0.0.1", int(sys.argv[1]), keepalive=30)
c.loop_start()
time.sleep(3600)
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def sample(pids: dict[str, int], seconds: float) -> dict[str, tuple[float, float]]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    return {name: (100 * (cpu_seconds(pid) - before[name]) / wall, rss_mb(pid)) for name, pid in pids.items()}


def watch(port: int, stop, read_bytes: list[int]) -> None:
    """One client on the console's event stream (as an open browser tab); counts bytes read."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/events")
    response, read = conn.getresponse(), 0
    while not stop.is_set():
        chunk = response.read1(65536)
        if not chunk:
            break
        read += len(chunk)
        read_bytes[:] = [read]
    conn.close()


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


async def main(seconds: float, rounds: int) -> None:
    import threading

    with Mosquitto(persistence=False) as broker:
        work = Path(tempfile.mkdtemp(prefix="portedge-bench-idle-"))
        port = free_port()
        rig = await LaneRig("lane-1", "bench", work / "lane-1", broker.url, random.Random(1)).start()
        with_console = await LaneRig("lane-2", "bench", work / "lane-2", broker.url, random.Random(1),
                                     extra_toml=console_toml(port)).start()
        rig.spawn()
        with_console.spawn()
        paho = subprocess.Popen([sys.executable, "-c", IDLE_PAHO, str(broker.port)])
        pids = {"lane node": rig.proc.pid, "with console": with_console.proc.pid, "raw paho": paho.pid}
        try:
            await asyncio.sleep(8)  # connect, birth, first polls
            idle = [await asyncio.to_thread(sample, pids, seconds) for _ in range(rounds)]
            stop = threading.Event()
            streamed: list[int] = [0]
            watcher = threading.Thread(target=watch, args=(port, stop, streamed), daemon=True)
            watcher.start()
            await asyncio.sleep(2)
            watched = await asyncio.to_thread(sample, pids, seconds)
            stop.set()
        finally:
            paho.kill()
            paho.wait()
            await rig.stop()
            await with_console.stop()
    node_cpu = median([r["lane node"][0] for r in idle])
    node_rss = median([r["lane node"][1] for r in idle])
    con_cpu = median([r["with console"][0] for r in idle])
    con_rss = median([r["with console"][1] for r in idle])
    paho_cpu, paho_rss = idle[-1]["raw paho"]
    print(f"idle, median of {rounds} x {seconds:.0f} s (lane node: Modbus 20 Hz poll, scale 5 Hz, 3 camera listeners, link):")
    print(f"  lane node     CPU {node_cpu:5.2f} %  RSS {node_rss:5.1f} MB")
    print(f"  + console     CPU {con_cpu:5.2f} %  RSS {con_rss:5.1f} MB  (adds {con_cpu - node_cpu:+.2f} % CPU, "
          f"{con_rss - node_rss:+.1f} MB RSS; budget 0.2 %, 5 MB)")
    print(f"  raw paho      CPU {paho_cpu:5.2f} %  RSS {paho_rss:5.1f} MB  (baseline: one idle client process)")
    print(f"  ratio RSS {node_rss / paho_rss:.1f}x")
    w_cpu, w_rss = watched["with console"]
    print(f"  console with one screen watching: CPU {w_cpu:5.2f} %  RSS {w_rss:5.1f} MB "
          f"(lane node beside it: {watched['lane node'][0]:.2f} %; {streamed[0] / 1024:.0f} kB of pictures streamed)")
    for i, r in enumerate(idle, 1):
        print(f"  round {i}: lane node {r['lane node'][0]:.2f} %, with console {r['with console'][0]:.2f} %")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
