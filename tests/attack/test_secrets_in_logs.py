"""Finding: a password in the broker URL was written to the log on every connect error.

A real node whose broker cannot be reached (a closed loopback port) retries for a while with
DEBUG logging in both formats; no password from its config - in the URL or in `[broker]` -
reaches a log line, `portedge status` or /healthz."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.ops.procs import free_port, portedge, stop_and_time, wait_for_line
from tests.ops.test_run_lifecycle import BROKER_PASSWORD, URL_PASSWORD, get, write_config


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_connect_errors_never_log_a_password(log_format, tmp_path):
    closed_port = free_port()  # nothing listens: every connect attempt fails
    metrics_port = free_port()
    config = write_config(tmp_path, closed_port, metrics_port, free_port())
    log_path = tmp_path / "node.log"
    with open(log_path, "w") as log_file:
        proc = portedge("run", "--config", config, "--log-format", log_format, "--log-level", "DEBUG",
                        cwd=tmp_path, stderr=log_file)
        try:
            wait_for_line(proc.stdout, "running; Ctrl-C stops", 30)
            deadline = time.monotonic() + 30
            while log_path.read_text().count(str(closed_port)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)  # at least two connect failures logged, naming the broker
            health = get(f"http://127.0.0.1:{metrics_port}/healthz")[1]
            status = subprocess.run([sys.executable, "-m", "agent", "status", "--config", str(tmp_path / config)],
                                    capture_output=True, text=True, cwd="/", timeout=30)
        finally:
            if proc.poll() is None:
                stop_and_time(proc, signal.SIGTERM, timeout=15)
    log = log_path.read_text()
    assert log.count(str(closed_port)) >= 2, log[-2000:]  # the connect errors were logged
    for text in (log, health, status.stdout, status.stderr):
        assert URL_PASSWORD not in text and BROKER_PASSWORD not in text
    assert "lane-7:***@127.0.0.1" in log
