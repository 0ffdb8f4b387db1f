"""PDA scan feedback: a wedge scan -> its right/wrong answer on screen, in the real app.

Run: .venv/bin/python bench/bench_pda_feedback.py [--runs 8] [--scans 50]

A real mosquitto on a free loopback port, the platform simulator (driver login, task
assignment), `PdaCore` (outbox, link, task board on SQLite, default storage) and `PdaApp`
rendered offscreen (SDL2 offscreen + Mesa llvmpipe, 480 x 800) on one asyncio loop, as
`portedge pda` runs. Per run: a fresh TO_INSPECTION task (more pieces than scans) is assigned,
accepted and its source scanned; then `--scans` wedge scans back to back (keystrokes + Enter
dispatched into the Kivy window; every 5th the wrong piece), each started as soon as the
previous answer is on screen. Runs alternate between the app as shipped (gc.freeze() after
start-up) and the same app with the start-up objects unfrozen, in the same process.

Per scan: "set" = the answer's texts set on the overlay's widgets (`app.render`), "drawn" =
the Window flip after that. Frames: the longest loop stall during a burst (a 2 ms ticker's
lateness: while the loop is blocked nothing is drawn) and the longest interval between two
flips (conservative: it also counts waits with nothing to draw). GC: full (generation 2)
collections during the bursts and their pauses. Baseline, same run: a flip after a one-label
change (the status bar's driver text), i.e. an empty frame on this machine.

All timestamps are time.perf_counter in this one process. Prints a markdown table for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pda_app import headless  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix="portedge-bench-feedback-"))
headless.prepare(offscreen=True, kivy_home=str(WORK / "kivy"))
headless.configure_window()

from kivy.core.window import Window  # noqa: E402

from agent.config.model import NodeConfig  # noqa: E402
from agent.contract.tasks import Task  # noqa: E402
from pda_app.app import PdaApp  # noqa: E402
from pda_app.core import PdaCore  # noqa: E402
from simulators.mosquitto import Mosquitto  # noqa: E402
from simulators.platform.sim import PlatformSim  # noqa: E402

SITE, NODE = "yt", "pda-bench"
BADGE, PIN = "D1024", "4711"
AWB = "17612345675"
WRONG = "16098765435-001"
TIMEOUT_S = 20.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Probe:
    """Flip times, loop stalls and GC pauses, recorded while `armed`."""

    def __init__(self) -> None:
        self.flips: list[float] = []
        self.recent: deque[float] = deque(maxlen=64)
        self.stalls: list[float] = []
        self.gc_pauses: list[tuple[int, float]] = []
        self.armed = False
        self._gc_start = 0.0
        self._waiters: list[asyncio.Future] = []
        Window.bind(on_flip=self._on_flip)
        gc.callbacks.append(self._on_gc)

    def _on_flip(self, *_):
        now = time.perf_counter()
        self.recent.append(now)
        if self.armed:
            self.flips.append(now)
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(now)

    def next_flip(self) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return fut

    async def flip_after(self, t: float) -> float:
        """The first flip after `t` (it may already have happened)."""
        after = [f for f in self.recent if f > t]
        return after[0] if after else await self.next_flip()

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self.armed:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_start))

    async def ticker(self) -> None:
        """The loop's lateness every 2 ms: how long it was blocked (nothing drawn meanwhile)."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.002)
            late = time.perf_counter() - before - 0.002
            if self.armed:
                self.stalls.append(late)


async def until(predicate, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def frames(n: int) -> None:
    from kivy.clock import Clock

    start = Clock.frames_displayed
    await until(lambda: Clock.frames_displayed >= start + n, f"{n} frames")


def wedge(text: str) -> None:
    for ch in text:
        Window.dispatch("on_textinput", ch)
    Window.dispatch("on_key_down", 13, 40, None, [])


async def script(app: PdaApp, core: PdaCore, sim: PlatformSim, args, results: dict) -> None:
    probe = Probe()
    ticker = asyncio.get_running_loop().create_task(probe.ticker())
    p = core.presenter
    set_at: dict[int, float] = {}
    show = app.feedback.show

    def timed_show(fb):  # the answer's texts go onto the overlay's widgets
        set_at.setdefault(fb.serial, time.perf_counter())
        show(fb)

    app.feedback.show = timed_show
    try:
        await frames(20)
        await until(lambda: core.link.connected, "the broker link")
        await p.scan(BADGE)
        for d in PIN:
            p.key(d)
        assert (await p.login()).ok, "login refused"
        await frames(70)  # the app freezes its start-up objects 1 s after start
        for run in range(args.runs):
            frozen = run % 2 == 1
            if frozen:
                gc.collect()
                gc.freeze()
            else:
                gc.unfreeze()
                gc.collect()
            task_id = f"T-B{run:03d}"
            pieces = args.scans + 5
            sim.assign_task(NODE, Task(task_id=task_id, kind="TO_INSPECTION", priority=1,
                                       due_by=sim.clock.now() + timedelta(hours=1), awb=AWB, pieces=pieces,
                                       source_location="A-03-12-2", destination="BAY-07"))
            await until(lambda tid=task_id: core.board.task(tid) is not None, "the task")
            while p.view().notice:
                p.dismiss_notice()
            p.open_task(task_id)
            await p.accept()
            await p.scan("A-03-12-2")
            p.dismiss_feedback()
            await frames(5)
            # baseline: one label changed, then its flip
            for i in range(10):
                app.status.driver.text = f"bench {run}.{i}"
                t0 = time.perf_counter()
                results["baseline"].append(await probe.next_flip() - t0)
            mode = "frozen" if frozen else "unfrozen"
            probe.flips, probe.stalls, probe.gc_pauses = [], [], []
            probe.armed = True
            piece = 1
            for i in range(args.scans):
                if i % 5 == 4:
                    text = WRONG
                else:
                    text, piece = f"{AWB}-{piece:03d}", piece + 1
                serial = p._feedback_serial + 1
                t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
                wedge(text)
                await until(lambda s=serial: s in set_at, "the answer")
                drawn = await probe.flip_after(set_at[serial])
                results[f"{mode}:cpu"].append(time.thread_time() - c0)
                results[f"{mode}:pcpu"].append(time.process_time() - p0)
                results[f"{mode}:set"].append(set_at[serial] - t0)
                results[f"{mode}:drawn"].append(drawn - t0)
            probe.armed = False
            gaps = [b - a for a, b in zip(probe.flips, probe.flips[1:], strict=False)]
            results[f"{mode}:flip_gap"].append(max(gaps))
            results[f"{mode}:stall"].append(max(probe.stalls))
            full = [d for g, d in probe.gc_pauses if g == 2]
            results[f"{mode}:gc2"].append(len(full))
            results[f"{mode}:gc2_max"].append(max(full, default=0.0))
            results[f"{mode}:gc_total"].append(sum(d for _, d in probe.gc_pauses))
            await until(lambda: core.outbox.stats().depth == 0, "the outbox to drain")
    except Exception as err:  # noqa: BLE001 - report, don't hang the app
        results["error"] = f"{type(err).__name__}: {err}"
    finally:
        ticker.cancel()
        app.stop()


async def main_async(args, broker: Mosquitto) -> dict:
    config = NodeConfig.model_validate({
        "node": {"id": NODE, "site": SITE, "role": "pda", "heartbeat_s": 3600},
        "broker": {"url": broker.url}, "storage": {"path": str(WORK / "pda.db")}, "pda": {"pin_hash_n": 1024}})
    sim = PlatformSim(broker.url, SITE).start()
    sim.add_driver(BADGE, PIN, "王师傅")
    core = PdaCore(config)
    await core.start()
    app = PdaApp(core.presenter, sound_dir=WORK / "sounds")
    results: dict = {k: [] for k in ("baseline",)}
    for mode in ("frozen", "unfrozen"):
        for what in ("set", "drawn", "cpu", "pcpu", "flip_gap", "stall", "gc2", "gc2_max", "gc_total"):
            results[f"{mode}:{what}"] = []
    try:
        await asyncio.gather(app.async_run(async_lib="asyncio"), script(app, core, sim, args, results))
    finally:
        await core.stop()
        sim.stop()
    return results


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def report(r: dict, args) -> str:
    base = statistics.median(r["baseline"])
    lines = [f"{args.runs} runs x {args.scans} wedge scans (every 5th wrong), runs alternating; "
             f"baseline (a one-label change -> flip) p50 {ms(base)} ms", "",
             "| app | scan -> set p50 / p99 | scan -> drawn p50 / p99 | drawn p99 x baseline | CPU per scan, UI thread / all threads p50 (p99) | "
             "worst loop stall | worst flip gap | full GCs per burst (worst pause) | GC time per burst |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for mode, label in (("frozen", "as shipped (gc.freeze after start-up)"), ("unfrozen", "start-up objects unfrozen")):
        s, d = r[f"{mode}:set"], r[f"{mode}:drawn"]
        if not d:
            continue
        lines.append(
            f"| {label} | {ms(pct(s, 50))} / {ms(pct(s, 99))} ms | {ms(pct(d, 50))} / {ms(pct(d, 99))} ms | "
            f"{pct(d, 99) / base:.1f}x | {ms(pct(r[f'{mode}:cpu'], 50))} ({ms(pct(r[f'{mode}:cpu'], 99))}) / "
            f"{ms(pct(r[f'{mode}:pcpu'], 50))} ({ms(pct(r[f'{mode}:pcpu'], 99))}) ms | "
            f"{ms(max(r[f'{mode}:stall']))} ms | {ms(max(r[f'{mode}:flip_gap']))} ms | "
            f"{statistics.mean(r[f'{mode}:gc2']):.1f} ({ms(max(r[f'{mode}:gc2_max']))} ms) | "
            f"{ms(statistics.median(r[f'{mode}:gc_total']))} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="bursts, alternating frozen/unfrozen (default 8)")
    parser.add_argument("--scans", type=int, default=50, help="wedge scans per burst (default 50)")
    args = parser.parse_args()
    with Mosquitto() as broker:
        results = asyncio.run(main_async(args, broker))
    if "error" in results:
        print(f"error: {results['error']}", file=sys.__stderr__)
        sys.exit(1)
    print(report(results, args))
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
