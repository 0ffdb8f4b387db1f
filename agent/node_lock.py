"""Whether a node is running, told by a lock it holds for as long as it runs.

`portedge run` and `portedge pda` take an exclusive lock on `<storage path>.lock` (flock; the
kernel lets go when the process dies, even by kill -9) and write who holds it. While running,
the node touches the file at every heartbeat, so its age is the age of the last sign of life.
On a clean stop it writes when it stopped. `portedge status` reads the file and tries the lock
from any working folder: held = running.

A second node on the same storage is refused (two writers on one outbox would interleave
sequence numbers). Never: delete the lock file while a node may hold it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import NodeAlreadyRunning

#: a `status` reading the file holds a shared lock for an instant; a start waits this long for it
ACQUIRE_WAIT_S = 2.0


def lock_path(storage_path: str | Path) -> Path:
    return Path(f"{storage_path}.lock")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class NodeLock:
    def __init__(self, storage_path: str | Path):
        self.path = lock_path(storage_path)
        self._fd: int | None = None
        self._info: dict = {}

    def acquire(self, node: str, config_file: str) -> NodeLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + ACQUIRE_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = read(self.path)
                    os.close(fd)
                    raise NodeAlreadyRunning(
                        f"node {holder.node or node} is already running on {self.path.with_suffix('')} "
                        f"(pid {holder.pid or '?'}, since {holder.started or '?'})") from None
                time.sleep(0.05)
        self._fd = fd
        self._info = {"pid": os.getpid(), "node": node, "config": str(config_file), "started": _now()}
        self._write(self._info)
        return self

    def beat(self) -> None:
        """A sign of life: the file's modification time is the last heartbeat."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.utime(self._fd)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self._write({**self._info, "stopped": _now()})
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def _write(self, info: dict) -> None:
        assert self._fd is not None
        data = json.dumps(info).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)


@dataclass
class LockState:
    running: bool
    pid: int | None = None
    node: str | None = None
    started: str | None = None
    stopped: str | None = None
    last_beat_age_s: float | None = None  # seconds since the file was last touched
    known: bool = True  # False: no lock file (the node never ran with this storage)


def read(path: str | Path) -> LockState:
    """The lock file's story, from any process; `path` is the lock file itself."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return LockState(running=False, known=False)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            running = False
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            running = True
        raw = os.pread(fd, 4096, 0)
        age = max(0.0, time.time() - os.fstat(fd).st_mtime)
    finally:
        os.close(fd)
    try:
        info = json.loads(raw or b"{}")
    except ValueError:
        info = {}
    return LockState(running=running, pid=info.get("pid"), node=info.get("node"), started=info.get("started"),
                     stopped=None if running else info.get("stopped"), last_beat_age_s=round(age, 1))
