"""PDA: what the UI loop pays for storage while 50 scans arrive, before and after the storage
layer (agent/storage.py) moved the task store's commits to a writer thread.

Run: .venv/bin/python bench/bench_pda_frames.py [--baseline 6694d54] [--scans 50] [--runs 3]

Each run is its own process (Kivy allows one app per process): the real PDA app (PdaApp on
PdaCore = NodeRuntime role "pda", default storage: synchronous=FULL) rendered offscreen
(SDL2 offscreen + Mesa), linked to a real mosquitto on a free loopback port with a
PlatformSim answering the driver's login. The driver logs in and accepts a 48-piece task;
then 50 scans arrive back to back the way a serial scanner's do (`NodeRuntime.emit`: the scan
is recorded in the outbox, then the board checks it): the source location, 48 pieces, the
destination (after three wrong-location scans as a warm-up). While they arrive the child measures, on the loop thread only:

- every SQLite statement (a `sqlite3.Connection` subclass installed through `sqlite3.connect`),
  counting as a commit each COMMIT and each write made outside a transaction (autocommit);
- every Kivy frame (a `Clock.schedule_interval(..., 0)` callback): the longest gap between two
  frames is the longest the driver's screen stood still.

"before" runs the tree of `--baseline` (a git commit, extracted with `git archive`; default:
main just before the storage layer), "after" this checkout, alternating, `--runs` times each;
the table shows the median run and after/before ratios. Prints markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "6694d54"  # main before agent/storage.py


# -- the child: one measured run ------------------------------------------------------------

def child(tree: Path, workdir: Path, scans: int) -> dict:
    sys.path.insert(0, str(tree))
    import sqlite3
    import threading
    import time

    loop_thread = threading.get_ident()
    seen = {"on": False, "sqlite_s": 0.0, "commit_s": [], "statements": 0}

    class TimedConnection(sqlite3.Connection):
        def execute(self, sql, *args):  # type: ignore[override]
            if not seen["on"] or threading.get_ident() != loop_thread:
                return super().execute(sql, *args)
            autocommit = not self.in_transaction
            start = time.perf_counter()
            try:
                return super().execute(sql, *args)
            finally:
                took = time.perf_counter() - start
                head = sql.lstrip()[:7].upper()
                seen["sqlite_s"] += took
                seen["statements"] += 1
                if head.startswith("COMMIT") or (autocommit and head.startswith(("INSERT", "UPDATE", "DELETE",
                                                                                  "REPLACE"))):
                    seen["commit_s"].append(took)

    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        kwargs.setdefault("factory", TimedConnection)
        return real_connect(*args, **kwargs)

    sqlite3.connect = connect  # type: ignore[assignment]

    from pda_app import headless

    headless.prepare(offscreen=True, kivy_home=str(workdir / "kivy"))
    headless.configure_window()

    import asyncio

    from kivy.clock import Clock

    from agent.config.model import NodeConfig
    from agent.contract.devices import Scan
    from agent.contract.tasks import Task
    from pda_app.app import PdaApp
    from pda_app.core import PdaCore
    from simulators.mosquitto import Mosquitto
    from simulators.platform.ledger import Ledger
    from simulators.platform.sim import PlatformSim

    awb, pieces = "17612345675", 48
    labels = ["A-03-12-2"] + [f"{awb}-{n:03d}" for n in range(1, pieces + 1)] + ["BAY-07"]
    labels = labels[:scans]
    frames: list[float] = []
    result: dict = {}

    def frame(_dt: float) -> None:
        if seen["on"]:
            frames.append(time.perf_counter())

    async def script(app: PdaApp, core: PdaCore, sim: PlatformSim) -> None:
        try:
            await core.start()
            for _ in range(1000):
                if core.link.connected:
                    break
                await asyncio.sleep(0.01)
            board = core.board
            login = await board.login("D1024", "4711")
            assert login.ok, login
            from datetime import UTC, datetime, timedelta

            from agent.contract.envelope import Command

            now = datetime.now(UTC)
            task = Task(task_id="T-50", kind="TO_INSPECTION", priority=2, due_by=now + timedelta(hours=1), awb=awb,
                        pieces=pieces, source_location=labels[0], destination="BAY-07", customs_ref="CI-1")
            await board.on_task_assign(Command[Task](node="pda-bench", type="task_assign", body=task,
                                                     correlation_id="c-1", reply_to="portedge/v1/yt/pda-bench/res/task_assign",
                                                     expires_at=now + timedelta(minutes=5)))
            assert (await board.accept("T-50")).ok
            core.presenter.screen = "tasks"  # logged in on the board itself: leave the login screen
            core.presenter.changed()
            for _ in range(3):  # warm-up: Kivy lays out and caches the glyphs of both answers
                await core.node.emit("scanner", Scan(device="scanner", data="B-01-04-1"))
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # let the screens settle and the outbox drain
            Clock.schedule_interval(frame, 0)
            seen["on"] = True
            start = time.perf_counter()
            frames.append(start)
            for text in labels:
                await core.node.emit("scanner", Scan(device="scanner", data=text))
            took = time.perf_counter() - start
            await asyncio.sleep(0.1)
            seen["on"] = False
            gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
            commits = sorted(seen["commit_s"])
            result.update({
                "scans": len(labels), "state": board.active.state if board.active else board.task("T-50").state,
                "scans_ms": took * 1000, "commits_on_loop": len(commits),
                "loop_ms_in_commits": sum(commits) * 1000, "loop_ms_in_sqlite": seen["sqlite_s"] * 1000,
                "statements_on_loop": seen["statements"],
                "commit_max_ms": (commits[-1] * 1000) if commits else 0.0,
                "frames": len(gaps), "longest_frame_ms": max(gaps) * 1000 if gaps else 0.0,
                "frame_p50_ms": statistics.median(gaps) * 1000 if gaps else 0.0,
            })
        finally:
            app.stop()

    async def main() -> None:
        broker = Mosquitto(workdir=workdir / "mosquitto")
        (workdir / "mosquitto").mkdir(exist_ok=True)
        broker.start()
        sim = PlatformSim(broker.url, "yt", ledger=Ledger()).start()
        sim.add_driver("D1024", "4711", "王师傅")
        config = NodeConfig.model_validate({
            "node": {"id": "pda-bench", "site": "yt", "role": "pda", "heartbeat_s": 3600},
            "broker": {"url": broker.url}, "storage": {"path": str(workdir / "pda.db")}, "pda": {"pin_hash_n": 1024}})
        core = PdaCore(config)
        app = PdaApp(core.presenter, sound_dir=workdir / "sounds")
        try:
            await asyncio.gather(app.async_run(async_lib="asyncio"), script(app, core, sim))
        finally:
            await core.stop()
            sim.stop()
            broker.close()

    asyncio.run(main())
    return result


# -- the parent: before and after, alternating -----------------------------------------------

def extract(ref: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_one(tree: Path, workdir: Path, scans: int) -> dict:
    workdir.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(tree), str(workdir),
                           "--scans", str(scans)], capture_output=True, text=True, env=env, timeout=300, cwd=tree)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"run in {tree} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


ROWS = [("loop time in commits (ms)", "loop_ms_in_commits"), ("commits on the loop", "commits_on_loop"),
        ("longest commit on the loop (ms)", "commit_max_ms"), ("loop time in all SQLite calls (ms)", "loop_ms_in_sqlite"),
        ("longest UI frame (ms)", "longest_frame_ms"), ("median UI frame (ms)", "frame_p50_ms"),
        ("50 scans, first to last answer (ms)", "scans_ms")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the 'before' tree")
    parser.add_argument("--scans", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("TREE", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]), args.scans)))
        return
    with tempfile.TemporaryDirectory(prefix="portedge-bench-frames-") as tmp:
        base = Path(tmp)
        trees = {"before": extract(args.baseline, base / "before-tree"), "after": ROOT}
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for i in range(args.runs):
            for label, tree in trees.items():
                runs[label].append(run_one(tree, base / f"{label}-{i}", args.scans))
                print(f"{label} run {i + 1}: {json.dumps(runs[label][-1])}", file=sys.stderr)
    med = {label: {key: statistics.median(r[key] for r in rs) for _, key in ROWS} for label, rs in runs.items()}
    print(f"| {args.scans} scans, median of {args.runs} runs | before ({args.baseline}) | after | after / before |")
    print("|---|---|---|---|")
    for name, key in ROWS:
        b, a = med["before"][key], med["after"][key]
        ratio = f"{a / b:.2f}x" if b else "-"
        print(f"| {name} | {b:.1f} | {a:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
