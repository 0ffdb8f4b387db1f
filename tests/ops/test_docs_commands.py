"""The `portedge` commands README.md and docs/operations.md show work as written, in order,
from a copy of the clone's examples (so nothing is written into the checkout). Commands that
run until stopped are started, seen running for a few seconds, then stopped with Ctrl-C
(SIGINT) and must exit 0. The Debian install's commands run with /opt/portedge/bin and
/etc/portedge pointed into a temporary folder."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ops.procs import wait_for_line

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = {"run", "pda", "sim"}
#: what each long-running command prints once it runs (and Ctrl-C is handled)
READY = {"run": "Ctrl-C stops", "sim lane": "run the lane with", "sim pda": "Ctrl-C stops",
         "sim platform": "Ctrl-C stops"}


def commands(doc: Path, prefix: str) -> list[list[str]]:
    found = []
    for line in doc.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith(prefix + " "):
            found.append(shlex.split(line, comments=True))
    return found


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PORTEDGE_")}


def _run(argv: list[str], cwd: Path) -> None:
    command = [sys.executable, "-m", "agent", *argv]
    if argv[0] in LONG_RUNNING and "--duration" not in argv:
        proc = subprocess.Popen(command, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            seen = wait_for_line(proc.stdout, READY[argv[0] if argv[0] != "sim" else " ".join(argv[:2])], 90)
            time.sleep(2.0)  # running, not just started
            assert proc.poll() is None, f"{argv} ended early: {proc.communicate()[1][-2000:]}"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        out = seen + out
        assert proc.returncode == 0, f"{argv} exit {proc.returncode}: {err[-2000:]}"
    else:
        done = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)
        out, err = done.stdout, done.stderr
        allowed = (0, 1) if argv[0] == "status" else (0,)  # status: exit 1 = not running (stopped), as documented
        assert done.returncode in allowed, f"{argv} exit {done.returncode}: {err[-2000:]}"
    assert "Traceback" not in out + err


@pytest.mark.allow_leaks
def test_readme_commands_run_as_written(tmp_path):
    for name in ("examples",):
        shutil.copytree(ROOT / name, tmp_path / name)
    shown = commands(ROOT / "README.md", ".venv/bin/portedge")
    assert len(shown) >= 8
    for argv in shown:
        argv = argv[1:]
        if argv[0] == "pda":
            continue  # needs a display; tests/ops/test_clean_stops.py runs it offscreen
        _run(argv, tmp_path)
    assert (tmp_path / "examples" / "var" / "lane-1.db").exists()  # relative storage: beside the config


def test_operations_install_commands_run(tmp_path):
    opt, etc = tmp_path / "opt", tmp_path / "etc"
    shown = [line for line in commands(ROOT / "docs" / "operations.md", "/opt/portedge/bin/portedge")]
    assert any(a[1] == "init" for a in shown) and any(a[1] == "check-config" for a in shown)
    for argv in shown:
        argv = [re.sub(r"^/etc/portedge", str(etc / "portedge"), a) for a in argv[1:]]
        if argv[0] == "init":
            argv += ["--storage", str(opt / "state")]
        _run(argv, tmp_path)
    assert (etc / "portedge" / "lane-1.toml").exists()
    assert (etc / "portedge" / "portedge@lane-1.service.d" / "devices.conf").exists()


def test_operations_local_commands_run(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shown = commands(ROOT / "docs" / "operations.md", ".venv/bin/portedge")
    assert len(shown) >= 3
    for argv in shown:
        _run(argv[1:], tmp_path)
