"""A fleet worker: a share of the nodes on one PollLoop thread, reporting snapshots upstream.

`run_worker` is the body of a worker process (multiprocessing, spawn) or, for small runs and
tests, of a thread in the coordinator's process. Every `REPORT_EVERY_S` it puts a snapshot
(plain dict: picklable) on the report queue: counters, connected nodes, the wall time of the
newest and the oldest current connection (the coordinator derives the reconnect storm from
them), PUBACK latencies since the last snapshot, and this process's CPU seconds and RSS.
It must never share paho clients with another thread: everything runs on its own loop.
"""

from __future__ import annotations

import logging
import random
import resource
import signal
import time
from dataclasses import asdict, dataclass

from simulators.fleet.loop import PollLoop, raise_fd_limit
from simulators.fleet.node import Counters, FleetNode, NodeSettings

log = logging.getLogger(__name__)

REPORT_EVERY_S = 0.5


@dataclass
class WorkerSpec:
    index: int
    lanes: list[str]
    pdas: list[str]
    settings: NodeSettings
    seed: int
    in_process: bool = False  # a thread of the coordinator: CPU and RSS are not this worker's own


def rss_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_worker(spec: WorkerSpec, reports, stop) -> None:
    """Run until `stop` (an Event) is set; then a clean shutdown and a final snapshot."""
    if not spec.in_process:
        # Ctrl-C reaches the whole process group; the coordinator sets `stop`, the worker ends cleanly
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd_limit = raise_fd_limit()
    # a worker thread in the coordinator's process counts only its own thread's CPU
    cpu = time.thread_time if spec.in_process else cpu_s
    rss_before, cpu_before = rss_kb(), cpu()
    loop = PollLoop()
    counters = Counters()
    rng = random.Random(spec.seed)
    nodes = [FleetNode(loop, n, "gate", spec.settings, random.Random(rng.random()), counters) for n in spec.lanes]
    nodes += [FleetNode(loop, n, "pda", spec.settings, random.Random(rng.random()), counters) for n in spec.pdas]
    for node in nodes:
        node.start()

    at_stop: int | None = None

    def snapshot(final: bool = False) -> dict:
        since = [n.connected_since for n in nodes if n.connected_since is not None]
        connected = len(since)
        puback, counters.puback_ms = counters.puback_ms, []
        snap = asdict(counters) | {
            "worker": spec.index, "nodes": len(nodes), "connected": connected,
            "newest_connect": max(since) if since else None,
            "oldest_connect": min(since) if connected == len(nodes) and since else None,
            "puback_ms": puback, "cpu_s": cpu() - cpu_before, "rss_kb": rss_kb(), "rss_before_kb": rss_before,
            "fd_limit": fd_limit, "loop_errors": loop.errors, "in_process": spec.in_process,
            "final": final, "wall": time.time(), "connected_at_stop": connected if at_stop is None else at_stop,
        }
        return snap

    def report() -> None:
        reports.put(snapshot())
        if stop.is_set():
            loop.stop()

    loop.every(REPORT_EVERY_S, report, first_s=0.05)
    try:
        loop.run()
        at_stop = sum(1 for n in nodes if n.connected)
        for node in nodes:
            node.stop()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(n.client.socket() is not None for n in nodes):
            loop.pump(0.05)  # let the offline states and DISCONNECTs go out
    finally:
        for node in nodes:
            node.force_close()
        final = snapshot(final=True)
        final["last_seq"] = {n.node: n.seq for n in nodes}  # the platform's audit compares against it
        reports.put(final)
        loop.close()
