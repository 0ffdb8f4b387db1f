"""`portedge sim pda`: a platform that logs the documented driver in and assigns inspection
tasks to the PDA of examples/pda-local.toml, tried as docs/pda.md says (the real PdaCore with
that config, a real mosquitto)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.config.load import load
from agent.identifiers.awb import check_awb
from simulators.platform.dispatch import DRIVER_PIN, Dispatcher, roster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/pda-local.toml"


def test_roster_and_tasks_are_valid_and_replay_from_the_seed():
    assert [d.badge for d in roster(3)] == ["D0001", "D0002", "D0003"] and DRIVER_PIN == "1234"
    assert len({d.name for d in roster(25)}) == 25

    class Sim:  # the dispatcher reads only the clock and the nodes seen
        from agent.clock import SYSTEM_CLOCK as clock

    made = [Dispatcher(Sim(), random.Random(5)).make_task() for _ in range(2)]
    again = [Dispatcher(Sim(), random.Random(5)).make_task() for _ in range(2)]
    assert [(t.awb, t.source_location) for t in made] == [(t.awb, t.source_location) for t in again]
    assert all(check_awb(t.awb).ok and t.kind == "TO_INSPECTION" for t in made)


def _start_sim(url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "agent", "sim", "pda", "--config", str(EXAMPLE), "--broker", url,
                             "--tasks-per-minute", "120", "--duration", "60"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.mark.allow_leaks
def test_documented_badge_logs_in_and_tasks_arrive(mosquitto, tmp_path):
    from pda_app.core import PdaCore

    config = load(EXAMPLE, environ={"PORTEDGE_BROKER__URL": mosquitto.url,
                                    "PORTEDGE_STORAGE__PATH": str(tmp_path / "pda-07.db")})
    proc = _start_sim(mosquitto.url)

    async def driver() -> tuple:
        core = PdaCore(config)
        await core.start()
        try:
            p = core.presenter
            deadline = time.monotonic() + 30
            while not core.link.connected and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await p.scan("D0001")
            for digit in DRIVER_PIN:
                p.key(digit)
            result = None
            while time.monotonic() < deadline:  # the simulator may still be starting
                result = await p.login()
                if result is not None and result.ok:
                    break
                await asyncio.sleep(0.5)
                await p.scan("D0001")
                for digit in DRIVER_PIN:
                    p.key(digit)
            while not core.board.tasks() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            core.refresh()
            return result, core.board.tasks(), p.view()
        finally:
            await core.stop()

    try:
        result, tasks, vm = asyncio.run(driver())
    finally:
        out = _stop(proc)
    assert result is not None and result.ok and result.driver.name == "王师傅", out
    assert "T-0001" in [v.task_id for v in tasks] and {v.task.kind for v in tasks} == {"TO_INSPECTION"}, out
    assert vm.status.reach == "online" and vm.status.contact_text == "平台 刚刚"
    assert "assigned T-0001 -> pda-07" in out and "site baiyun-cargo" in out
    assert proc.returncode == 0, out


def test_sim_pda_refuses_a_broker_that_is_not_on_this_machine():
    proc = subprocess.run([sys.executable, "-m", "agent", "sim", "pda", "--config", str(ROOT / "examples/site/pda.toml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PORTEDGE_BROKER__CA_FILE": ""})
    assert proc.returncode == 2
    assert "examples/site/pda.toml" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_sim_platform_takes_drivers_and_a_task_rate(mosquitto):
    proc = subprocess.run([sys.executable, "-m", "agent", "sim", "platform", "--broker", mosquitto.url,
                           "--site", "baiyun-cargo", "--drivers", "2", "--tasks-per-minute", "60", "--duration", "2.5"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "drivers: D0001, D0002 (PIN 1234)" in proc.stdout
    assert "no PDA online yet" in proc.stdout  # and it invents none
