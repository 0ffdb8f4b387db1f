"""Fleet load, small: 20 simulated nodes on one poll loop against the real mosquitto fixture."""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from agent.cli.main import main as portedge
from agent.contract.envelope import Command, new_id
from agent.contract.gate import LaneMode
from agent.contract.topics import Kind, Topic, site_filter
from simulators.fleet import FleetConfig, run_fleet
from simulators.fleet.loop import PollLoop, raise_fd_limit
from simulators.fleet.node import Counters, FleetNode, NodeSettings
from simulators.fleet.stats import percentiles
from simulators.fleet.worker import WorkerSpec, run_worker

SITE = "fl"
BUSY = {"gate_every_s": 1.5, "task_every_s": 1.0, "heartbeat_every_s": 1.0}


class Watcher:
    """A plain paho subscriber (its own thread) standing in for the platform in these tests."""

    def __init__(self, port: int, *filters: str):
        self.inbox: queue.Queue = queue.Queue()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{random.getrandbits(32)}",
                             protocol=mqtt.MQTTv5)
        self.c.on_message = lambda c, u, m: self.inbox.put((m.topic, m.retain, json.loads(m.payload)))
        self.c.connect("127.0.0.1", port)
        for f in filters:
            self.c.subscribe(f, qos=1)
        self.c.loop_start()

    def collect(self, want, timeout: float = 10.0) -> list:
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline and not want(got):
            try:
                got.append(self.inbox.get(timeout=0.1))
            except queue.Empty:
                pass
        return got

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _worker(port: int, lanes: int, pdas: int):
    settings = NodeSettings(host="127.0.0.1", port=port, site=SITE, ramp_s=0.3, **BUSY)
    spec = WorkerSpec(index=0, lanes=[f"lane-{i:04d}" for i in range(1, lanes + 1)],
                      pdas=[f"pda-{i:04d}" for i in range(1, pdas + 1)], settings=settings, seed=7, in_process=True)
    reports, stop = queue.Queue(), threading.Event()
    thread = threading.Thread(target=run_worker, args=(spec, reports, stop), name="fleet-worker")
    thread.start()
    return thread, reports, stop


def _wait_connected(reports: queue.Queue, n: int, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = reports.get(timeout=timeout)
        if snap["connected"] == n:
            return snap
    raise AssertionError(f"not all {n} nodes connected within {timeout}s")


def test_nodes_retain_births_answer_commands_and_leave_offline(mosquitto):
    thread, reports, stop = _worker(mosquitto.port, lanes=10, pdas=10)
    try:
        _wait_connected(reports, 20)
        # a late subscriber sees every node's retained birth
        states = Watcher(mosquitto.port, site_filter(SITE, Kind.STATE))
        births = states.collect(lambda got: len(got) >= 20)
        assert {t.split("/")[3] for t, retained, p in births if retained and p["body"]["status"] == "online"} == \
            {f"lane-{i:04d}" for i in range(1, 11)} | {f"pda-{i:04d}" for i in range(1, 11)}
        # a valid command is answered ok on reply_to, one for another node is refused with a reason
        res = Watcher(mosquitto.port, site_filter(SITE, Kind.RES))
        events = Watcher(mosquitto.port, site_filter(SITE, Kind.EVT))
        for corr, addressed in (("c-ok", "lane-0001"), ("c-wrong", "lane-0009")):
            cmd = Command[LaneMode](id=new_id(), node=addressed, type="lane_mode", body=LaneMode(lane="lane-0001", mode="manual"),
                                    reply_to=str(Topic(SITE, "lane-0001", Kind.RES, "lane_mode")), correlation_id=corr,
                                    expires_at=datetime.now(UTC) + timedelta(seconds=30))
            res.c.publish(str(Topic(SITE, "lane-0001", Kind.CMD, "lane_mode")), cmd.model_dump_json(), qos=1)
        answers = {p["correlation_id"]: p for _, _, p in res.collect(lambda got: len(got) >= 2)}
        assert answers["c-ok"]["ok"] is True and answers["c-ok"]["node"] == "lane-0001"
        assert answers["c-wrong"]["ok"] is False and answers["c-wrong"]["error"]["code"] == "wrong_node"
        # traffic flows in the real contract: lanes send transactions, PDAs task updates, all heartbeats
        types = {t.rsplit("/", 1)[1] for t, _, _ in events.collect(
            lambda got: {"gate_transaction", "task_update", "heartbeat"} <= {t.rsplit("/", 1)[1] for t, _, _ in got})}
        assert {"gate_transaction", "lane_event", "task_update", "heartbeat"} <= types
        for w in (res, events):
            w.close()
    finally:
        stop.set()
        thread.join(timeout=15)
    # clean shutdown replaces every retained birth with `offline` (not the last will's `lost`)
    after = states.collect(lambda got: sum(1 for _, _, p in got if p["body"]["status"] == "offline") >= 20, 5)
    states.close()
    assert sum(1 for _, _, p in after if p["body"]["status"] == "offline") == 20


def test_a_fleet_node_refuses_a_command_as_the_agent_does():
    """The node's checks are the agent's (agent.link.commands): one set of rules, not a copy."""
    loop = PollLoop()
    node = FleetNode(loop, "lane-0001", "gate", NodeSettings(host="127.0.0.1", port=1), random.Random(1), Counters())

    def command(ttl_s: float = 30, node_id: str = "lane-0001", type_: str = "lane_mode") -> dict:
        return json.loads(Command[LaneMode](
            id=new_id(), node=node_id, type=type_, body=LaneMode(lane="lane-0001", mode="manual"),
            reply_to=str(Topic(SITE, "lane-0001", Kind.RES, "lane_mode")), correlation_id="c",
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s)).model_dump_json())

    try:
        assert node._check("lane_mode", command()) is None
        refused = {
            "unknown_command": node._check("self_destruct", command()),
            "wrong_node": node._check("lane_mode", command(node_id="lane-0002")),
            "expired": node._check("lane_mode", command(ttl_s=-1)),
            "refused": node._check("lane_mode", command(ttl_s=3600)),  # beyond [commands] max_ttl_s
            "invalid_schema": node._check("lane_mode", command(type_="reread")),
        }
        assert {code: error.code if error else None for code, error in refused.items()} == {c: c for c in refused}
    finally:
        loop.close()


def test_fleet_run_survives_a_broker_restart_and_reports(mosquitto, tmp_path):
    report = run_fleet(FleetConfig(lanes=10, pdas=10, duration_s=9, processes=0, broker=mosquitto, site=SITE,
                                   restart_at_s=3, restart_down_s=0.5, report_dir=tmp_path, commands_per_s=4,
                                   ramp_s=0.5, live=False, **BUSY))
    assert report["connected_at_end"] == 20
    assert report["reconnect"]["disconnects"] >= 20  # every node lost the broker ...
    assert report["reconnect"]["storm_s"] is not None  # ... and every one came back after it
    assert report["births_seen"] >= 20
    m = report["messages"]
    assert m["received_by_platform"] > 0 and m["acked"] > 0
    assert {"gate_transaction", "lane_event", "task_update", "heartbeat"} <= set(m["by_type"])
    c = report["commands"]
    assert c["sent"] > 0 and c["answered_ok"] == c["sent"] and c["unanswered"] == 0
    assert report["seq"]["missing"] == 0  # nothing a node published was lost across the restart
    for path in ("node_to_platform", "platform_to_node", "node_to_broker_puback"):
        assert report["latency_ms"][path]["n"] > 0 and report["latency_ms"][path]["p99"] is not None
    assert report["latency_ms_outside_restart"]["node_to_platform"]["n"] > 0
    for key in ("rss_kb", "rss_marginal_kb", "cpu_s", "cpu_ms_per_s"):
        assert key in report["per_node"]
    assert json.loads((tmp_path / "fleet-report.json").read_text())["nodes"]["total"] == 20


def test_nodes_work_on_file_descriptors_past_1024(mosquitto):
    """paho's own loop uses select(), which fails past fd 1024; the fleet's epoll loop must not."""
    if raise_fd_limit() < 1200:
        pytest.skip("fd limit too low to push sockets past 1024")
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        thread, reports, stop = _worker(mosquitto.port, lanes=2, pdas=2)
        try:
            snap = _wait_connected(reports, 4)
            assert snap["loop_errors"] == 0
        finally:
            stop.set()
            thread.join(timeout=15)
    finally:
        for fd in filler:
            os.close(fd)


def test_cli_runs_a_fleet_in_a_worker_process(mosquitto, tmp_path):
    rc = portedge(["sim", "fleet", "--broker", mosquitto.url, "--lanes", "3", "--pdas", "2", "--duration", "4",
                   "--processes", "1", "--site", SITE, "--report", str(tmp_path), "--no-live"])
    assert rc == 0
    report = json.loads((tmp_path / "fleet-report.json").read_text())
    assert report["connected_at_end"] == 5 and report["per_node"]["measured_in_process"] is False
    assert report["command"].startswith("portedge")


def test_cli_refuses_a_restart_of_a_broker_it_did_not_start(mosquitto, capsys):
    rc = portedge(["sim", "fleet", "--broker", mosquitto.url, "--lanes", "1", "--pdas", "0", "--duration", "1",
                   "--processes", "0", "--restart-broker-at", "1", "--no-live"])
    assert rc == 2
    assert "restart" in capsys.readouterr().out


def test_the_cli_entry_point_imports_no_simulator_until_one_runs():
    code = "import sys, agent.cli.main; bad = [m for m in sys.modules if m.startswith('simulators')]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_percentiles_are_nearest_rank():
    figs = percentiles([float(i) for i in range(1, 101)])
    assert (figs["n"], figs["p50"], figs["p99"], figs["max"]) == (100, 50.0, 99.0, 100.0)
    assert percentiles([])["p50"] is None
