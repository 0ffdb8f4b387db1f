"""`portedge sim lane --spawn`: simulated lane hardware plus a real lane node, by command."""

import signal
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.allow_leaks]


def test_sim_lane_runs_trucks_through_a_spawned_node(mosquitto, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "agent", "sim", "lane", "--broker", mosquitto.url,
                             "--dir", str(tmp_path / "lane"), "--trucks-every", "1", "--spawn"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(": turned back" in x or ": passed" in x for x in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = "".join(lines)
    assert "portedge run --config" in text
    # no platform answers here (none is running), so a truck turns back: TROUBLE, never an allow
    assert ": turned back" in text, text
    assert proc.returncode == 0, text
