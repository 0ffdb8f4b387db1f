"""The whole port, end to end: real agents (lane nodes as processes, PDAs in-process), firmware
stubs over ptys, a real mosquitto, the platform simulator's ledger as the oracle — with a
broker restart, a platform silence, a serial unplug, injected garbage and a kill -9."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.port import PortSim
from simulators.scenario import SCENARIO_DIR, load_scenario

pytestmark = [pytest.mark.slow, pytest.mark.allow_leaks]  # child processes and ptys are audited by the run itself


def test_storm_scenario_loses_nothing_and_never_drops_a_barrier_on_a_truck(mosquitto, tmp_path):
    scenario = load_scenario(SCENARIO_DIR / "storm.toml")
    summary = asyncio.run(PortSim(scenario, tmp_path, broker=mosquitto).run())

    assert summary["problems"] == [], summary["problems"]
    assert summary["ok"]
    assert {f.split(" ", 1)[1] for f in summary["faults"]} == {
        "serial_garbage scale-1", "broker_restart", "platform_silence", "serial_unplug scale-1", "agent_kill lane-1"}
    # delivery: every node's records arrived with no seq gap (kill -9 and broker restart included)
    for node, d in summary["delivery"].items():
        assert d["records"] > 0 and d["gap_count"] == 0, (node, d)
    lanes = summary["lanes"]
    assert lanes["lane-1"]["agent_kills"] == 1
    for lane, d in lanes.items():
        assert d["trucks"] > 0, lane
        assert d["unsafe_movements"] == 0 and d["interlock_violations"] == 0, (lane, d)
        assert d["transaction_ids_repeated"] == [], (lane, d)
        # every truck the barrier let through is on record as passed (a kill can add an aborted one)
        assert d["outcomes"].get("passed", 0) == d["passed_at_barrier"], (lane, d)
    assert sum(d["task_updates"] for d in summary["pdas"].values()) > 0
    assert all(not d["updates_out_of_order"] for d in summary["pdas"].values())


def _demo(tmp_path: Path, *extra: str) -> dict:
    report = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "agent", "demo", "--quiet", "--report", str(report), *extra],
                          capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Summary — OK" in done.stdout
    folder = next(report.iterdir())
    assert (folder / "throughput.png").stat().st_size > 1000
    return json.loads((folder / "summary.json").read_text())


def test_demo_runs_on_the_embedded_broker(tmp_path):
    summary = _demo(tmp_path, "--duration", "30")
    assert summary["broker"].startswith("embedded")
    assert summary["records_received"] > 100
    assert all(d["gap_count"] == 0 for d in summary["delivery"].values())


def test_demo_runs_against_mosquitto(tmp_path, mosquitto):
    summary = _demo(tmp_path, "--duration", "15", "--broker", mosquitto.url)
    assert summary["broker"].startswith("mosquitto")
    assert sum(d["trucks"] for d in summary["lanes"].values()) >= 1
