"""Every long-running command stops on a real SIGINT or SIGTERM within 5 s, with no process
left behind (lane node children reaped), its temporary work folder removed and its ptys closed.
Each test sends the signal to a real process and then reads the process table and the folders.
Figures (time to stop, processes left) are printed; run with -s to see them."""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import time

import pytest

from tests.ops.procs import descendants, left_after, portedge, stop_and_time, wait_for_line

SIGNALS = pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])


def _ptys_of(pids: set[int]) -> int:
    count = 0
    for pid in pids:
        for fd in glob.glob(f"/proc/{pid}/fd/*"):
            try:
                if os.readlink(fd).startswith("/dev/pts/") or os.readlink(fd) == "/dev/ptmx":
                    count += 1
            except OSError:
                pass
    return count


def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _kill_all(proc, also: set[int] = frozenset()) -> None:
    """After a failure: the process, its group, and children in sessions of their own."""
    for pid in (descendants(proc.pid) | set(also)):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _lane_nodes(pid: int) -> set[int]:
    found = set()
    for child in descendants(pid):
        try:
            if b"agent\x00run" in open(f"/proc/{child}/cmdline", "rb").read():
                found.add(child)
        except OSError:
            pass
    return found


@pytest.mark.slow
@pytest.mark.allow_leaks
@pytest.mark.parametrize(("command", "sig"), [("demo", signal.SIGINT), ("demo", signal.SIGTERM),
                                              ("sim scenario", signal.SIGINT)],
                         ids=["demo-SIGINT", "demo-SIGTERM", "sim-scenario-SIGINT"])
def test_demo_stops_its_lane_nodes_and_removes_its_work_folder(command, sig, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = portedge(*command.split(), "--quiet", "--duration", "120", "--report", str(tmp_path / "reports"),
                    env={"TMPDIR": str(tmp)}, cwd=tmp_path)
    try:
        wait_for_line(proc.stdout, "the scenario is running", 90)
        nodes = _until(lambda: _lane_nodes(proc.pid) if len(_lane_nodes(proc.pid)) == 2 else None, 20,
                       "two lane node processes")
        assert list(tmp.glob("portedge-demo-*")), "the demo's work folder"
        everyone = descendants(proc.pid) | {proc.pid}
        took, code = stop_and_time(proc, sig)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    left = left_after(everyone | nodes, max(0.0, 5.0 - took))
    print(f"{command} stopped by {sig.name} in {took:.2f} s, processes left: {len(left)}")
    assert code == (130 if sig == signal.SIGINT else 143)
    assert took < 5.0
    assert left == set()
    assert list(tmp.iterdir()) == []  # work folder (configs, ptys' links, databases) removed
    assert "Traceback" not in proc.stdout.read() + proc.stderr.read()


@pytest.mark.allow_leaks
@SIGNALS
def test_sim_lane_with_its_node_stops(sig, mosquitto, tmp_path):
    proc = portedge("sim", "lane", "--broker", mosquitto.url, "--dir", str(tmp_path / "lane"), "--spawn",
                    "--trucks-every", "0", cwd=tmp_path)
    try:
        wait_for_line(proc.stdout, "run the lane with", 30)
        nodes = _until(lambda: _lane_nodes(proc.pid) or None, 20, "the lane node process")
        time.sleep(1.0)  # the node opens its ports
        everyone = descendants(proc.pid) | {proc.pid}
        assert _ptys_of({proc.pid}) > 0
        took, code = stop_and_time(proc, sig)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    left = left_after(everyone | nodes, max(0.0, 5.0 - took))
    print(f"sim lane stopped by {sig.name} in {took:.2f} s, processes left: {len(left)}")
    assert code == 0 and took < 5.0 and left == set()
    assert not list((tmp_path / "lane").glob("*.db-wal"))  # the node closed its outbox


@pytest.mark.allow_leaks
@SIGNALS
def test_sim_platform_stops(sig, mosquitto, tmp_path):
    proc = portedge("sim", "platform", "--broker", mosquitto.url, "--ledger", str(tmp_path / "ledger.db"))
    try:
        wait_for_line(proc.stdout, "Ctrl-C stops", 30)
        took, code = stop_and_time(proc, sig)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    print(f"sim platform stopped by {sig.name} in {took:.2f} s, processes left: {len(left_after({proc.pid}, 0))}")
    assert code == 0 and took < 5.0


@pytest.mark.allow_leaks
@SIGNALS
def test_sim_fleet_stops_its_workers_and_its_broker(sig, tmp_path):
    proc = portedge("sim", "fleet", "--lanes", "3", "--pdas", "3", "--processes", "1", "--duration", "120",
                    "--no-live", cwd=tmp_path)
    try:
        workers = _until(lambda: descendants(proc.pid) if len(descendants(proc.pid)) >= 2 else None, 30,
                         "the fleet's worker and broker")
        time.sleep(2.0)  # nodes connected
        everyone = descendants(proc.pid) | workers | {proc.pid}
        took, code = stop_and_time(proc, sig)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    left = left_after(everyone, max(0.0, 5.0 - took))
    print(f"sim fleet stopped by {sig.name} in {took:.2f} s, processes left: {len(left)}")
    assert code in (0, 1, 130) and took < 5.0 and left == set()
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.gui
@pytest.mark.allow_leaks
@SIGNALS
def test_pda_app_stops_and_closes_its_outbox(sig, mosquitto, tmp_path):
    config = tmp_path / "pda.toml"
    config.write_text('[node]\nid = "pda-07"\nsite = "baiyun-cargo"\nrole = "pda"\n'
                      f'[broker]\nurl = "{mosquitto.url}"\n[storage]\npath = "var/pda-07.db"\n'
                      '[[devices]]\nname = "imager"\nkind = "wedge"\n', encoding="utf-8")
    proc = portedge("pda", "--config", str(config), "--offscreen", cwd=tmp_path)
    try:
        _until(lambda: (tmp_path / "var" / "pda-07.db.lock").exists() and descendants(proc.pid) is not None
               and (tmp_path / "var" / "pda-07.tasks.db").exists(), 60, "the PDA's databases")
        time.sleep(3.0)  # the window is up and the link connected
        everyone = descendants(proc.pid) | {proc.pid}
        took, code = stop_and_time(proc, sig)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    left = left_after(everyone, max(0.0, 5.0 - took))
    print(f"pda stopped by {sig.name} in {took:.2f} s, processes left: {len(left)}")
    assert code == 0, proc.stderr.read()[-2000:]
    assert took < 5.0 and left == set()
    assert not (tmp_path / "var" / "pda-07.db-wal").exists()  # outbox closed: nothing to recover
    assert "NOT RUNNING (stopped" in portedge("status", "--config", str(config)).communicate(timeout=30)[0]


@pytest.mark.allow_leaks
@SIGNALS
def test_sim_pda_stops(sig, mosquitto, tmp_path):
    proc = portedge("sim", "pda", "--config", "examples/pda-local.toml", "--broker", mosquitto.url)
    try:
        wait_for_line(proc.stdout, "Ctrl-C stops", 30)
        everyone = descendants(proc.pid) | {proc.pid}
        took, code = stop_and_time(proc, sig)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    left = left_after(everyone, max(0.0, 5.0 - took))
    print(f"sim pda stopped by {sig.name} in {took:.2f} s, processes left: {len(left)}")
    assert code == 0 and took < 5.0 and left == set()
