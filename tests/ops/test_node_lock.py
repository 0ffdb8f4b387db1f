"""The lock a running node holds: `status` reads running / stopped / never ran from it, and a
second node on the same storage is refused with who holds it — also across processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent import node_lock
from agent.errors import NodeAlreadyRunning
from agent.node_lock import NodeLock


def test_never_ran_running_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(node_lock, "ACQUIRE_WAIT_S", 0.2)
    storage = tmp_path / "lane-1.db"
    assert node_lock.read(node_lock.lock_path(storage)).known is False
    lock = NodeLock(storage).acquire("lane-1", "lane.toml")
    try:
        state = node_lock.read(lock.path)
        assert state.running and state.node == "lane-1" and state.started and state.stopped is None
        with pytest.raises(NodeAlreadyRunning, match="lane-1 is already running"):
            NodeLock(storage).acquire("lane-1", "lane.toml")
        lock.beat()
    finally:
        lock.release()
    state = node_lock.read(lock.path)
    assert not state.running and state.stopped is not None
    NodeLock(storage).acquire("lane-1", "lane.toml").release()  # free again


def test_a_killed_holder_leaves_the_lock_free(tmp_path):
    storage = tmp_path / "lane-1.db"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom agent.node_lock import NodeLock\n"
        f"NodeLock({str(storage)!r}).acquire('lane-1', 'x')\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert node_lock.read(node_lock.lock_path(storage)).running
        holder.kill()  # kill -9: no clean stop, no "stopped" written
        holder.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()
    state = node_lock.read(node_lock.lock_path(storage))
    assert not state.running and state.stopped is None and state.known  # "it did not stop cleanly"
    NodeLock(storage).acquire("lane-1", "x").release()
