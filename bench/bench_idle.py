"""Benchmark: what an idle lane node costs — CPU and RSS of a real `portedge run` process
(gate lane on simulated hardware: Modbus polling at 20 Hz, a Toledo stream at 5 Hz, three
camera listeners, the link with heartbeats) against an idle raw paho client process, both
measured from /proc in the same run. A second lane node, the same but serving its booth
console (`[console]`, nobody watching), runs beside the first and is sampled in the same
windows: what the console adds to an idle lane (budget: 5 MB RSS, 0.2 % CPU). A third window
set has one browser-like client watching the console's event stream.

With `--against DIR` (another checkout of this repo, e.g. /work/main) a third lane node runs
that checkout's agent code, same rig, sampled in the same windows: before/after in one run.

    .venv/bin/python bench/bench_idle.py [--seconds 20] [--rounds 3] [--against DIR]
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


def fsyncs_per_s(pid: int, seconds: float) -> float | None:
    """fsync + fdatasync calls a second of a process (all threads), counted by strace attached
    for `seconds` (a separate window: ptrace slows the process, so never during a CPU window).
    None when strace is missing or may not attach."""
    import shutil
    import signal

    if shutil.which("strace") is None:
        return None
    proc = subprocess.Popen(["strace", "-f", "-qq", "-c", "-e", "trace=fsync,fdatasync", "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    if "attach" in err and "Operation not permitted" in err:
        return None
    calls = 0
    for line in err.splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync"):
            calls += int(parts[3])  # % time, seconds, usecs/call, calls, [errors], syscall
    return calls / seconds


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


async def main(seconds: float, rounds: int, against: str | None = None) -> None:
    import threading

    with Mosquitto(persistence=False) as broker:
        work = Path(tempfile.mkdtemp(prefix="portedge-bench-idle-"))
        port = free_port()
        rig = await LaneRig("lane-1", "bench", work / "lane-1", broker.url, random.Random(1)).start()
        with_console = await LaneRig("lane-2", "bench", work / "lane-2", broker.url, random.Random(1),
                                     extra_toml=console_toml(port)).start()
        other = None
        if against:
            other = await LaneRig("lane-3", "bench", work / "lane-3", broker.url, random.Random(1)).start()
        rig.spawn()
        with_console.spawn()
        if other is not None:
            log = open(other.workdir / "lane-3.log", "ab")
            # `python -m agent` from that checkout's directory runs its code, not this one's
            other.proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(other.config_path),
                                           "--log-level", "WARNING"], stdout=log, stderr=log, cwd=against,
                                          start_new_session=True)
            log.close()
        paho = subprocess.Popen([sys.executable, "-c", IDLE_PAHO, str(broker.port)])
        pids = {"lane node": rig.proc.pid, "with console": with_console.proc.pid, "raw paho": paho.pid}
        if other is not None:
            pids["against"] = other.proc.pid
        try:
            await asyncio.sleep(8)  # connect, birth, first polls
            idle = [await asyncio.to_thread(sample, pids, seconds) for _ in range(rounds)]
            synced = await asyncio.to_thread(fsyncs_per_s, rig.proc.pid, seconds)
            synced_other = await asyncio.to_thread(fsyncs_per_s, other.proc.pid, seconds) if other else None
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
            if other is not None:
                await other.stop()
    node_cpu = median([r["lane node"][0] for r in idle])
    node_rss = median([r["lane node"][1] for r in idle])
    con_cpu = median([r["with console"][0] for r in idle])
    con_rss = median([r["with console"][1] for r in idle])
    paho_cpu, paho_rss = idle[-1]["raw paho"]
    print(f"idle, median of {rounds} x {seconds:.0f} s (lane node: Modbus 20 Hz poll / 4 Hz at rest, scale 5 Hz, 3 camera listeners, link):")
    print(f"  lane node     CPU {node_cpu:5.2f} %  RSS {node_rss:5.1f} MB")
    print(f"  + console     CPU {con_cpu:5.2f} %  RSS {con_rss:5.1f} MB  (adds {con_cpu - node_cpu:+.2f} % CPU, "
          f"{con_rss - node_rss:+.1f} MB RSS; budget 0.2 %, 5 MB)")
    print(f"  raw paho      CPU {paho_cpu:5.2f} %  RSS {paho_rss:5.1f} MB  (baseline: one idle client process)")
    print(f"  ratio RSS {node_rss / paho_rss:.1f}x")
    print("  lane node fsyncs: " + ("strace not available" if synced is None else f"{synced:.2f} a second (strace, "
                                   f"{seconds:.0f} s window after the CPU windows)"))
    w_cpu, w_rss = watched["with console"]
    print(f"  console with one screen watching: CPU {w_cpu:5.2f} %  RSS {w_rss:5.1f} MB "
          f"(lane node beside it: {watched['lane node'][0]:.2f} %; {streamed[0] / 1024:.0f} kB of pictures streamed)")
    if other is not None:
        o_cpu = median([r["against"][0] for r in idle])
        o_rss = median([r["against"][1] for r in idle])
        print(f"  {against}: CPU {o_cpu:5.2f} %  RSS {o_rss:5.1f} MB  fsyncs "
              + ("n/a" if synced_other is None else f"{synced_other:.2f}/s")
              + f"  (this tree: {node_cpu / o_cpu if o_cpu else float('nan'):.2f}x CPU, {node_rss / o_rss:.2f}x RSS)")
    for i, r in enumerate(idle, 1):
        print(f"  round {i}: lane node {r['lane node'][0]:.2f} % {r['lane node'][1]:.1f} MB, with console "
              f"{r['with console'][0]:.2f} %" + (f", {against} {r['against'][0]:.2f} % {r['against'][1]:.1f} MB"
                                                 if other is not None else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", metavar="DIR", help="another checkout: its lane node runs beside this one")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds, args.against))
