"""The fleet coordinator: broker, workers, platform probe, optional broker restart, the report.

`run_fleet(FleetConfig(...))` starts (or reuses) a broker, spreads the nodes over worker
processes (each one PollLoop thread; `processes=0` runs a single worker as a thread of this
process, for tests), runs the platform probe, restarts the broker at `restart_at_s` if asked,
shows a live panel, and returns the report (also written as JSON to `report_dir`).
`duration_s` (and every time in the report) counts from the moment every worker has reported
once, so a slow interpreter start on a loaded machine is not part of the run.

Reconnect storm: from the moment the restarted broker listens again until every node holds a
connection that began after the broker went down (workers report the oldest and newest
connection start). This module must never touch a paho client of a worker.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import random
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from simulators.fleet.loop import raise_fd_limit
from simulators.fleet.node import NodeSettings
from simulators.fleet.probe import PlatformProbe
from simulators.fleet.stats import percentiles
from simulators.fleet.worker import WorkerSpec, run_worker
from simulators.mosquitto import Mosquitto

#: commands stop this long before the end, so every one sent can still be answered
COMMAND_QUIET_S = 3.0
#: how long the workers may take to start (import, build their nodes) before the run's clock starts anyway
STARTUP_S = 60.0


@dataclass
class FleetConfig:
    lanes: int
    pdas: int
    duration_s: float
    broker_url: str | None = None
    processes: int = 1
    restart_at_s: float | None = None
    restart_down_s: float = 1.0
    report_dir: Path | None = None
    site: str = "fleet"
    seed: int = 1
    commands_per_s: float = 2.0
    gate_every_s: float = 30.0
    task_every_s: float = 20.0
    heartbeat_every_s: float = 30.0
    ramp_s: float | None = None  # default: 1 s per 250 nodes
    shared_group: str | None = None
    mqtt_version: str = "5"  # "3.1.1" for a broker without MQTT 5 (RabbitMQ 3.10's plugin)
    #: a running broker the run may restart but must not close (the test fixture); else one is started
    broker: Mosquitto | None = None
    live: bool = True
    argv: list[str] = field(default_factory=list)

    @property
    def nodes(self) -> int:
        return self.lanes + self.pdas


def _proc_figures(pid: int) -> tuple[int | None, float | None]:
    """RSS (kB) and CPU seconds of another process, from /proc."""
    try:
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, cpu
    except (OSError, StopIteration, IndexError, ValueError):
        return None, None


def _specs(config: FleetConfig, host: str, port: int) -> list[WorkerSpec]:
    ramp = config.ramp_s if config.ramp_s is not None else max(1.0, config.nodes / 250)
    settings = NodeSettings(host=host, port=port, site=config.site, gate_every_s=config.gate_every_s,
                            task_every_s=config.task_every_s, heartbeat_every_s=config.heartbeat_every_s, ramp_s=ramp,
                            mqtt_version=config.mqtt_version)
    workers = max(1, config.processes)
    lanes = [f"lane-{i:04d}" for i in range(1, config.lanes + 1)]
    pdas = [f"pda-{i:04d}" for i in range(1, config.pdas + 1)]
    return [WorkerSpec(index=w, lanes=lanes[w::workers], pdas=pdas[w::workers], settings=settings,
                       seed=config.seed * 1000 + w, in_process=config.processes == 0) for w in range(workers)]


class _Restart:
    """Restart the broker on a side thread so the live view and the queue keep moving."""

    def __init__(self, broker: Mosquitto, down_s: float):
        self.t_down: float | None = None
        self.t_up: float | None = None
        self.error: str | None = None
        self._broker, self._down_s = broker, down_s
        self.thread = threading.Thread(target=self._run, name="fleet-broker-restart", daemon=True)

    def _run(self) -> None:
        try:
            self.t_down = time.time()
            self._broker.stop()
            time.sleep(self._down_s)
            self._broker.start()
            self.t_up = time.time()
        except Exception as err:  # noqa: BLE001 - reported in the run's report, not raised off-thread
            self.error = str(err)


def run_fleet(config: FleetConfig, console=None) -> dict:
    if config.nodes <= 0:
        raise ValueError("a fleet needs at least one lane or PDA")
    raise_fd_limit()  # also inherited by a mosquitto started here
    broker, own_broker = config.broker, False
    if broker is not None:
        host, port, url = broker.host, broker.port, broker.url
    elif config.broker_url is None:
        # Nagle on the broker side adds ~40 ms to every command (measured): MQTT packets are whole
        broker, own_broker = Mosquitto(persistence=True, extra=["set_tcp_nodelay true"]).start(), True
        host, port, url = broker.host, broker.port, broker.url
    else:
        parts = urlsplit(config.broker_url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname or not parts.port:
            raise ValueError(f"--broker must look like mqtt://127.0.0.1:1883, not {config.broker_url!r}")
        host, port, url = parts.hostname, parts.port, config.broker_url
    if config.restart_at_s is not None and broker is None:
        raise ValueError("--restart-broker-at needs a broker this command starts (leave out --broker)")
    load_start = os.getloadavg()
    probe = PlatformProbe(host, port, config.site, rng=random.Random(config.seed), shared_group=config.shared_group,
                          mqtt_version=config.mqtt_version)
    try:
        probe.start()
        return _run(config, broker, url, host, port, probe, load_start, console)
    finally:
        probe.stop()
        if own_broker:
            broker.close()


def _run(config, broker, url, host, port, probe, load_start, console) -> dict:
    specs = _specs(config, host, port)
    if config.processes == 0:
        reports, stop = queue.Queue(), threading.Event()
        runners = [threading.Thread(target=run_worker, args=(specs[0], reports, stop), name="fleet-worker")]
    else:
        ctx = mp.get_context("spawn")  # never fork a process that already runs paho threads
        reports, stop = ctx.Queue(), ctx.Event()
        runners = [ctx.Process(target=run_worker, args=(s, reports, stop), name=f"fleet-worker-{s.index}")
                   for s in specs]
    for r in runners:
        r.start()
    latest: dict[int, dict] = {}
    finals: dict[int, dict] = {}
    puback: list[float] = []
    restart: _Restart | None = None
    storm_s: float | None = None
    all_connected_s: float | None = None

    def drain(block_s: float) -> None:
        deadline = time.monotonic() + block_s
        while True:
            try:
                snap = reports.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            puback.extend(snap.pop("puback_ms"))
            (finals if snap["final"] else latest)[snap["worker"]] = snap

    def connected() -> int:
        return sum(s["connected"] for s in latest.values())

    live = None
    if config.live and console is not None:
        from rich.live import Live

        from simulators.fleet.display import live_table
        live = Live(console=console, refresh_per_second=2, transient=False)
        live.start()
    try:
        # the run's clock starts once every worker has reported (its nodes exist): a Python
        # start-up slowed by a loaded machine must not eat the duration being measured
        ready_by = time.monotonic() + STARTUP_S
        while len(latest) < len(specs) and time.monotonic() < ready_by and all(r.is_alive() for r in runners):
            drain(0.1)
        t0, wall0 = time.monotonic(), time.time()
        while (elapsed := time.monotonic() - t0) < config.duration_s:
            drain(0.1)
            if elapsed < config.duration_s - COMMAND_QUIET_S:
                owed = int(config.commands_per_s * elapsed) - probe.sent
                if owed > 0:
                    probe.send_commands(owed)
            if all_connected_s is None and len(latest) == len(specs) and connected() == config.nodes:
                all_connected_s = time.time() - wall0
            if restart is None and config.restart_at_s is not None and elapsed >= config.restart_at_s:
                restart = _Restart(broker, config.restart_down_s)
                restart.thread.start()
            if restart is not None and restart.t_up is not None and storm_s is None:
                storm_s = _storm(latest, restart, len(specs))
            if live is not None:
                live.update(live_table(_view(config, latest, probe, elapsed, url, restart, storm_s)))
    finally:
        stop.set()
        deadline = time.monotonic() + 20
        while len(finals) < len(runners) and time.monotonic() < deadline:
            drain(0.2)
        for r in runners:
            r.join(timeout=5)
        if hasattr(reports, "join_thread"):  # a multiprocessing queue: close its pipe and feeder
            reports.close()
            reports.join_thread()
        if live is not None:
            live.stop()
    if restart is not None:
        restart.thread.join(timeout=30)
    time.sleep(0.5)  # the last responses and events reach the probe
    broker_rss, broker_cpu = _proc_figures(broker.proc.pid) if broker is not None and broker.proc else (None, None)
    report = _report(config, url, broker is not None, finals or latest, probe, puback, restart, storm_s,
                     all_connected_s, broker_rss, broker_cpu, load_start)
    if config.report_dir is not None:
        config.report_dir.mkdir(parents=True, exist_ok=True)
        (config.report_dir / "fleet-report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _storm(latest: dict[int, dict], restart: _Restart, workers: int) -> float | None:
    """Seconds from broker-up to the last node's new connection, once every node is back."""
    snaps = list(latest.values())
    if len(snaps) < workers or any(s["wall"] < restart.t_up for s in snaps):
        return None
    if any(s["oldest_connect"] is None or s["oldest_connect"] < restart.t_down for s in snaps):
        return None
    return max(0.0, max(s["newest_connect"] for s in snaps) - restart.t_up)


def _steady(probe: PlatformProbe, restart: _Restart | None, storm_s: float | None) -> dict | None:
    """Both paths without the samples caught in a restart (from broker down to all nodes back,
    plus a second); None when there was no restart."""
    if restart is None or restart.t_down is None:
        return None
    until = (restart.t_up or time.time()) + (storm_s if storm_s is not None else 1e9) + 1.0
    return probe.steady(restart.t_down, until)


def _view(config, latest, probe, elapsed, url, restart, storm_s) -> dict:
    state = "up"
    if restart is not None and restart.t_up is None:
        state = "restarting"
    p = probe.live()
    return {"elapsed_s": elapsed, "duration_s": config.duration_s, "nodes": config.nodes,
            "connected": sum(s["connected"] for s in latest.values()), "broker": f"{url} ({state})",
            "msgs_per_s": p["msgs_per_s"], "published": sum(s["published"] for s in latest.values()),
            "received": p["received"], "node_to_platform": p["node_to_platform"],
            "platform_to_node": p["platform_to_node"], "commands_sent": p["commands_sent"],
            "commands_pending": p["commands_pending"],
            "reconnects": sum(max(0, s["connects"] - s["nodes"]) for s in latest.values()), "storm_s": storm_s}


def _report(config, url, owned, snaps, probe, puback, restart, storm_s, all_connected_s, broker_rss, broker_cpu,
            load_start) -> dict:
    snaps = list(snaps.values())
    total = lambda key: sum(s[key] for s in snaps)  # noqa: E731
    n = config.nodes
    in_process = any(s["in_process"] for s in snaps)
    rss = total("rss_kb")
    last_seq = {node: seq for s in snaps for node, seq in s.get("last_seq", {}).items()}
    with probe._lock:
        node_ms, command_ms = list(probe.node_ms), list(probe.command_ms)
        received, by_type = probe.received, dict(probe.by_type)
        sent, ok, err, pending = probe.sent, probe.answered_ok, probe.answered_error, len(probe.pending)
        births = probe.births
    return {
        "command": shlex.join(config.argv) if config.argv else None,
        "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "duration_s": config.duration_s, "processes": config.processes, "site": config.site, "seed": config.seed,
        "nodes": {"lanes": config.lanes, "pdas": config.pdas, "total": n},
        "traffic": {"gate_every_s": config.gate_every_s, "task_every_s": config.task_every_s,
                    "heartbeat_every_s": config.heartbeat_every_s, "commands_per_s": config.commands_per_s},
        "connected_at_end": total("connected_at_stop"), "all_connected_after_s": all_connected_s, "births_seen": births,
        "messages": {"published": total("published"), "acked": total("acked"), "received_by_platform": received,
                     "per_s": received / config.duration_s, "skipped_offline": total("skipped_offline"),
                     "by_type": by_type},
        "latency_ms": {"node_to_platform": percentiles(node_ms), "platform_to_node": percentiles(command_ms),
                       "node_to_broker_puback": percentiles(puback)},
        "commands": {"sent": sent, "answered": ok + err, "answered_ok": ok, "answered_error": err,
                     "unanswered": pending, "received_by_nodes": total("commands")},
        "per_node": {"rss_kb": rss / n, "rss_marginal_kb": (rss - total("rss_before_kb")) / n,
                     "cpu_s": total("cpu_s") / n, "cpu_ms_per_s": total("cpu_s") / n / config.duration_s * 1000,
                     "fleet_cpu_percent_of_one_core": total("cpu_s") / config.duration_s * 100,
                     "measured_in_process": in_process},
        "broker": {"url": url, "owned": owned, "rss_kb": broker_rss, "cpu_s_since_start": broker_cpu,
                   "rss_kb_per_node": broker_rss / n if broker_rss else None},
        "reconnect": {"restart_at_s": config.restart_at_s, "broker_down_s": config.restart_down_s if restart else None,
                      "storm_s": storm_s, "restart_error": restart.error if restart else None,
                      "connects": total("connects"), "disconnects": total("disconnects"),
                      "connect_failures": total("connect_failures")},
        "latency_ms_outside_restart": _steady(probe, restart, storm_s),
        "seq": probe.seq_audit(last_seq or None),
        "loop_errors": total("loop_errors"),
        "load": {"start": list(load_start), "end": list(os.getloadavg())},
    }
