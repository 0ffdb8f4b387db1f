"""Benchmark: what an idle lane node costs — CPU and RSS of a real `portedge run` process
(gate lane on simulated hardware: Modbus polling at 20 Hz, a Toledo stream at 5 Hz, three
camera listeners, the link with heartbeats) against an idle raw paho client process, both
measured from /proc in the same run.

    .venv/bin/python bench/bench_idle.py [--seconds 20]
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

from simulators.lane_rig import LaneRig  # noqa: E402
from simulators.mosquitto import Mosquitto  # noqa: E402

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


async def main(seconds: float) -> None:
    with Mosquitto(persistence=False) as broker:
        work = Path(tempfile.mkdtemp(prefix="portedge-bench-idle-"))
        rig = await LaneRig("lane-1", "bench", work, broker.url, random.Random(1)).start()
        rig.spawn()
        paho = subprocess.Popen([sys.executable, "-c", IDLE_PAHO, str(broker.port)])
        try:
            await asyncio.sleep(6)  # connect, birth, first polls
            result = await asyncio.to_thread(sample, {"lane node": rig.proc.pid, "raw paho": paho.pid}, seconds)
        finally:
            paho.kill()
            paho.wait()
            await rig.stop()
    node_cpu, node_rss = result["lane node"]
    paho_cpu, paho_rss = result["raw paho"]
    print(f"idle over {seconds:.0f} s (lane node: Modbus 20 Hz poll, scale 5 Hz, 3 camera listeners, link):")
    print(f"  lane node  CPU {node_cpu:5.2f} %  RSS {node_rss:5.1f} MB")
    print(f"  raw paho   CPU {paho_cpu:5.2f} %  RSS {paho_rss:5.1f} MB  (baseline: one idle client process)")
    print(f"  ratio RSS {node_rss / paho_rss:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    asyncio.run(main(parser.parse_args().seconds))
