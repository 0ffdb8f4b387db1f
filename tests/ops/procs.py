"""Process-table helpers for the clean-stop tests: who descends from a process, who is left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry))
    return out


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children_of(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie counts as gone: it has ended, only unreaped)."""
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.add(pid)
    return left


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def portedge(*args: str, env: dict[str, str] | None = None, cwd: Path | str | None = None,
             stderr=subprocess.PIPE, **kwargs) -> subprocess.Popen:
    """`python -m agent ARGS` in its own session (so a test's signal reaches only it)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTEDGE_")}
    return subprocess.Popen([sys.executable, "-m", "agent", *args], env={**base, **(env or {})},
                            cwd=cwd or ROOT, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=stderr, text=True, **kwargs)


def wait_for_line(stream, needle: str, timeout: float) -> str:
    """Read `stream` (a pipe) until `needle` shows; the text read (AssertionError on timeout).
    Reads the file descriptor itself: a buffered readline could hold lines select() cannot see."""
    import selectors

    fd = stream.fileno()
    seen = b""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
            if needle.encode() in seen:
                return seen.decode(errors="replace")
    finally:
        sel.unregister(fd)
    raise AssertionError(f"{needle!r} not seen within {timeout} s; got:\n{seen.decode(errors='replace')}")


def stop_and_time(proc: subprocess.Popen, sig: int, timeout: float = 5.0) -> tuple[float, int]:
    """Send `sig`, wait for the exit; (seconds it took, exit code). Kills and fails past `timeout`."""
    start = time.monotonic()
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGUSR1)  # `portedge run` dumps its threads' stacks to its log
        time.sleep(0.5)
        os.killpg(proc.pid, 9)
        proc.wait()
        raise AssertionError(f"pid {proc.pid} still running {timeout} s after signal {sig}") from None
    return time.monotonic() - start, code


def left_after(pids: set[int], grace_s: float = 2.0) -> set[int]:
    """Those of `pids` still running after up to `grace_s` (a helper such as multiprocessing's
    resource tracker ends a moment after its parent)."""
    deadline = time.monotonic() + grace_s
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
