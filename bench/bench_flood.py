"""Benchmark: a command flood against a lane node — how long a valid command waits for its
answer while 10,000 others arrive, and what the flood costs in memory.

One real `portedge run` lane node (simulated hardware, as bench_idle.py) and a loopback
mosquitto. A platform-side paho client sends a valid `lane_mode` command every 20 ms (the
probe) and measures publish -> answer; first alone (the baseline, same run), then while a
second client publishes `--flood` valid `lane_mode` commands (unique ids) as fast as the
broker takes them. The probe's commands ask for their answers on `res/probe` and the probe
listens only there, so its answers do not queue behind the flood's in this process. The
node's RSS is read from /proc every 20 ms.

    .venv/bin/python bench/bench_flood.py [--flood 10000] [--root DIR]

`--root DIR` runs the node from another checkout (e.g. /work/main) for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from agent.contract.envelope import new_id  # noqa: E402
from simulators.lane_rig import LaneRig  # noqa: E402
from simulators.mosquitto import Mosquitto  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
SITE, LANE = "bench", "lane-1"
CMD = f"portedge/v1/{SITE}/{LANE}/cmd/lane_mode"


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def command(corr: str, reply: str = "lane_mode") -> bytes:
    now = datetime.now(UTC)
    return json.dumps({"id": new_id(), "node": LANE, "ts": now.isoformat(), "type": "lane_mode", "v": 1,
                       "body": {"lane": LANE, "mode": "auto"}, "correlation_id": corr,
                       "reply_to": f"portedge/v1/{SITE}/{LANE}/res/{reply}",
                       "expires_at": (now + timedelta(seconds=120)).isoformat()}).encode()


class Platform:
    """The platform's side: answers are matched to what was sent by correlation id."""

    def __init__(self, port: int, name: str, reply: str):
        self.reply = reply  # the probe's answers come back on their own res/ topic, not behind the flood's
        self.sent: dict[str, float] = {}
        self.answers: dict[str, tuple[float, str]] = {}  # corr -> (latency s, "ok" or error code)
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def listen(self) -> None:
        self.client.subscribe(f"portedge/v1/{SITE}/{LANE}/res/{self.reply}", qos=1)

    def send(self, corr: str) -> None:
        with self.lock:
            self.sent[corr] = time.monotonic()
        self.client.publish(CMD, command(corr, self.reply), qos=1)

    def _on_message(self, _c, _u, message) -> None:
        at = time.monotonic()
        answer = json.loads(message.payload)
        corr = answer.get("correlation_id")
        with self.lock:
            if corr in self.sent and corr not in self.answers:
                self.answers[corr] = (at - self.sent[corr], "ok" if answer["ok"] else answer["error"]["code"])

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def probe(platform: Platform, prefix: str, stop: threading.Event, every_s: float, limit: int) -> list[str]:
    sent = []
    while not stop.is_set() and len(sent) < limit:
        corr = f"{prefix}-{len(sent):05d}"
        platform.send(corr)
        sent.append(corr)
        time.sleep(every_s)
    return sent


def summary(platform: Platform, corrs: list[str]) -> tuple[list[float], Counter[str]]:
    with platform.lock:
        got = [platform.answers[c] for c in corrs if c in platform.answers]
    kinds = Counter(kind for _, kind in got)
    kinds["unanswered"] = len(corrs) - len(got)
    return [lat * 1000 for lat, _ in got], kinds


def spawn(rig: LaneRig, root: Path | None) -> None:
    if root is None:
        rig.spawn()
        return
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    log = open(rig.workdir / f"{rig.lane}.log", "ab")
    rig.proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(rig.config_path),
                                 "--log-level", "WARNING"], stdout=log, stderr=log, start_new_session=True,
                                env=env, cwd=str(root))
    log.close()


async def main(flood: int, root: Path | None, wait_s: float, commands: str) -> None:
    with Mosquitto(persistence=False) as broker:
        work = Path(tempfile.mkdtemp(prefix="portedge-bench-flood-"))
        extra = f"[commands]\n{commands.replace(',', chr(10))}\n" if commands else ""
        rig = await LaneRig(LANE, SITE, work, broker.url, random.Random(1), extra_toml=extra).start()
        spawn(rig, root)
        prober = Platform(broker.port, "bench-probe", "probe")
        prober.listen()
        flooder = Platform(broker.port, "bench-flood", "lane_mode")
        flooder.listen()
        try:
            await asyncio.sleep(6)  # connect, birth, first polls
            prober.send("warm-up")  # the node answers: it is subscribed and running
            for _ in range(300):
                if "warm-up" in prober.answers:
                    break
                await asyncio.sleep(0.1)
            pid = rig.proc.pid
            stop = threading.Event()
            base = await asyncio.to_thread(probe, prober, "base", stop, 0.02, 100)
            await asyncio.sleep(1.0)
            rss_before = rss_mb(pid)
            peak = [rss_before]
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    try:
                        peak[0] = max(peak[0], rss_mb(pid))
                    except (FileNotFoundError, ProcessLookupError):
                        return
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t0 = time.monotonic()
            probing = asyncio.create_task(asyncio.to_thread(probe, prober, "probe", stop, 0.02, 100_000))
            flood_corrs = [f"flood-{n:06d}" for n in range(flood)]
            await asyncio.to_thread(lambda: [flooder.send(c) for c in flood_corrs])
            published = time.monotonic() - t0
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                with flooder.lock:
                    if len(flooder.answers) >= flood:
                        break
                await asyncio.sleep(0.1)
            answered_in = time.monotonic() - t0
            stop.set()
            probes = await probing
            await asyncio.sleep(1.0)
            sampling.set()
            sampler.join()
            alive = rig.proc.poll() is None
        finally:
            prober.stop()
            flooder.stop()
            await rig.stop()
    base_ms, base_kinds = summary(prober, base)
    probe_ms, probe_kinds = summary(prober, probes)
    _, flood_kinds = summary(flooder, flood_corrs)
    where = (f"node from {root}" if root else "node from this checkout") + (f", [commands] {commands}" if commands else "")
    print(f"command flood: {flood} lane_mode commands ({where}); flood published in {published:.1f} s,"
          f" answers in by {answered_in:.1f} s; node alive after: {alive}")
    print(f"  baseline (no flood), {len(base)} probes: p50 {pct(base_ms, 50):.1f} ms  p99 {pct(base_ms, 99):.1f} ms"
          f"  max {max(base_ms, default=float('nan')):.1f} ms  {dict(base_kinds)}")
    print(f"  during the flood, {len(probes)} probes: p50 {pct(probe_ms, 50):.1f} ms  p99 {pct(probe_ms, 99):.1f} ms"
          f"  max {max(probe_ms, default=float('nan')):.1f} ms  {dict(probe_kinds)}")
    print(f"  p99 ratio flood / baseline: {pct(probe_ms, 99) / pct(base_ms, 99):.1f}x")
    print(f"  flood answers: {dict(flood_kinds)}")
    print(f"  node RSS: {rss_before:.1f} MB before, peak {peak[0]:.1f} MB, growth {peak[0] - rss_before:.1f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--root", type=Path, default=None, help="run the node from this checkout")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the flood's answers")
    parser.add_argument("--commands", default="", help='[commands] settings, e.g. "queue = 16,concurrency = 8"')
    args = parser.parse_args()
    asyncio.run(main(args.flood, args.root, args.wait, args.commands))
