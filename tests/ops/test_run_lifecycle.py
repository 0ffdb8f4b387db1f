"""`portedge run` as an operator meets it: a real process on a real broker, told by a fake
service manager's notify socket when it is ready, pinging the watchdog, scraped for metrics
and health, seen as RUNNING by `portedge status` from another folder, then stopped by a real
SIGINT or SIGTERM: it exits 0 within 5 s, leaves no process, closes its outbox (no WAL left to
recover) and writes no secret from its config to any log line or status output."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.ops.procs import alive, descendants, free_port, portedge, stop_and_time, wait_for_line

BROKER_PASSWORD = "Pa55-word-never-logged"
URL_PASSWORD = "url-secret-never-logged"


def write_config(folder, broker_port: int, metrics_port: int, camera_port: int) -> str:
    (folder / "lane.toml").write_text(f"""
[node]
id = "lane-7"
site = "yantian"
role = "gate"
heartbeat_s = 1

[broker]
url = "mqtt://lane-7:{URL_PASSWORD}@127.0.0.1:{broker_port}"
username = "lane-7"
password = "{BROKER_PASSWORD}"
reconnect_base_s = 0.2
reconnect_cap_s = 1

[storage]
path = "data/lane-7.db"

[[devices]]
name = "cam-plate"
kind = "camera"
listen = "127.0.0.1:{camera_port}"

[gate]
lane = "lane-7"
cameras = ["cam-plate"]

[metrics]
listen = "127.0.0.1:{metrics_port}"
""", encoding="utf-8")
    return "lane.toml"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class FakeManager:
    """The service manager's side of $NOTIFY_SOCKET: a thread reading every datagram."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.notes: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, name="fake-systemd")
        self._thread.start()

    def _read(self) -> None:
        while not self._done.is_set():
            try:
                self.notes.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def wait_for(self, text: str, timeout: float, after: int = 0) -> int:
        """Index of the first note from `after` on containing `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, note in enumerate(self.notes[after:], after):
                if text in note:
                    return i
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not notified within {timeout} s; got {self.notes}")

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.sock.close()


@pytest.mark.attack  # no secret from the config in a log line or status (docs/security.md)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_is_ready_observable_and_stops_cleanly(sig, mosquitto, tmp_path):
    metrics_port = free_port()
    config = write_config(tmp_path, mosquitto.port, metrics_port, free_port())
    log_path = tmp_path / "node.log"
    manager = FakeManager(tmp_path / "notify")
    with open(log_path, "w") as log_file:
        proc = portedge("run", "--config", config, "--log-format", "json", "--log-level", "DEBUG", cwd=tmp_path,
                        stderr=log_file, env={"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
        try:
            ready = manager.wait_for("READY=1", 20)
            wait_for_line(proc.stdout, "running; Ctrl-C stops", 10)
            manager.wait_for("WATCHDOG=1", 2, after=ready)

            # metrics and health, scraped from outside
            base = f"http://127.0.0.1:{metrics_port}"
            deadline = time.monotonic() + 10
            while get(f"{base}/healthz")[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            code, body = get(f"{base}/healthz")
            assert code == 200 and json.loads(body)["status"] == "ready", body
            code, exposition = get(f"{base}/metrics")
            assert code == 200
            for name in ("portedge_link_connected 1.0", 'portedge_outbox_rows{class="telemetry"}',
                         'portedge_device_state{device="cam-plate",kind="camera",state="online"} 1.0',
                         "portedge_publishes_total", "portedge_puback_seconds_bucket",
                         f'portedge_link_broker{{url="mqtt://lane-7:***@127.0.0.1:{mosquitto.port}"}} 1.0'):
                assert name in exposition, name
            assert get(f"{base}/nowhere")[0] == 404
            promtool = shutil.which("promtool")
            if promtool:
                checked = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True,
                                         text=True, timeout=30)
                assert checked.returncode == 0, checked.stdout + checked.stderr

            # status from another working folder: running, with times, no secrets
            status = subprocess.run([sys.executable, "-m", "agent", "status", "--config", str(tmp_path / config)],
                                    capture_output=True, text=True, cwd="/", timeout=30)
            assert "RUNNING (pid" in status.stdout and "last heartbeat" in status.stdout, status.stdout + status.stderr
            assert f"link connected to mqtt://lane-7:***@127.0.0.1:{mosquitto.port}" in status.stdout, status.stdout
            children = descendants(proc.pid)

            took, code = stop_and_time(proc, sig)
            manager.wait_for("STOPPING=1", 2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            manager.close()
    assert code == 0, log_path.read_text()[-2000:]
    assert took < 5.0
    assert alive(children | {proc.pid}) == set()
    print(f"run stopped by {sig.name} in {took:.2f} s, processes left: 0")

    # the outbox was closed: no write-ahead log left for the next start to recover
    data = tmp_path / "data"
    assert (data / "lane-7.db").exists() and not (data / "lane-7.db-wal").exists()
    status = subprocess.run([sys.executable, "-m", "agent", "status", "--config", str(tmp_path / config)],
                            capture_output=True, text=True, cwd="/", timeout=30)
    assert "NOT RUNNING (stopped " in status.stdout, status.stdout
    for text in (log_path.read_text(), status.stdout, status.stderr):
        assert BROKER_PASSWORD not in text and URL_PASSWORD not in text
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "node", "message"} <= set(line) for line in lines)
    assert any(line.get("device") == "cam-plate" for line in lines)
    assert all(line["node"] == "lane-7" for line in lines)
