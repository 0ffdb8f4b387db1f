"""The notify protocol against a fake service manager's socket: the datagrams' text, abstract
socket names, and a watchdog that goes quiet while the event loop is blocked (so systemd
restarts a hung node) and resumes when it runs again."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from agent.service import Notifier


def listen(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.1)
    return sock


def test_ready_status_and_stopping_are_one_datagram_each(tmp_path):
    sock = listen(tmp_path / "notify")
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
        notifier.ready("node lane-1 running")
        notifier.stopping()
        assert sock.recv(4096) == b"READY=1\nSTATUS=node lane-1 running"
        assert sock.recv(4096) == b"STOPPING=1"
    finally:
        sock.close()


def test_abstract_socket_name():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"portedge-test-{time.monotonic_ns()}"
    sock.bind("\0" + name)
    sock.settimeout(1)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_without_a_manager_nothing_happens():
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_s is None
    assert notifier.send("READY=1") is False
    assert notifier.start_watchdog() is None


def test_watchdog_for_another_pid_is_not_ours(tmp_path):
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "1000000",
                     "WATCHDOG_PID": "1"}).watchdog_s is None


def test_watchdog_stops_while_the_loop_is_blocked(tmp_path):
    sock = listen(tmp_path / "notify")
    pings: list[float] = []
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            try:
                if sock.recv(4096) == b"WATCHDOG=1":
                    pings.append(time.monotonic())
            except TimeoutError:
                continue

    reader = threading.Thread(target=receive, name="fake-systemd")
    reader.start()

    async def main() -> tuple[float, float]:
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "200000"})
        task = notifier.start_watchdog()
        await asyncio.sleep(0.6)  # every 0.1 s: several pings
        blocked_from = time.monotonic()
        time.sleep(1.0)  # a hung loop: no ping can go out
        blocked_to = time.monotonic()
        await asyncio.sleep(0.5)  # running again: pings resume
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return blocked_from, blocked_to

    try:
        blocked_from, blocked_to = asyncio.run(main())
    finally:
        done.set()
        reader.join()
        sock.close()
    before = [t for t in pings if t < blocked_from]
    during = [t for t in pings if blocked_from + 0.05 < t < blocked_to - 0.05]
    after = [t for t in pings if t > blocked_to]
    assert len(before) >= 3 and len(after) >= 2
    assert during == []


def test_a_manager_that_does_not_read_never_blocks_the_node(tmp_path):
    sock = listen(tmp_path / "notify")  # never read: its queue fills after a few datagrams
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
        start = time.monotonic()
        sent = [notifier.send("WATCHDOG=1") for _ in range(500)]
        assert time.monotonic() - start < 2.0
        assert sent[0] is True and sent[-1] is False  # dropped, not waited for
    finally:
        sock.close()
