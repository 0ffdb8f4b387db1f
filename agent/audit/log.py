"""The audit log file: entries sealed on the event loop, written and fsync'd on a thread.

Theory of operation. `append()` seals the entry at once (the chain's order is the order of
calls on the loop) and queues its line; a writer thread writes every queued line and fsyncs
once per batch (group commit), then resolves each caller's future. A caller that must not
answer before the entry is on disk awaits `append(...)`; the lane's own movements do not wait.

The queue is bounded (`max_pending`): when the disk stalls that long, `append` refuses
(`AuditFullError`) *before* sealing, so the chain on disk stays whole; the refusal is counted
and shown as a degraded reason. On open, the head is read from the file's tail; a torn last
line (a crash inside a write, never acknowledged) is cut off, and that is itself logged.

Never: rewrite or delete an entry on disk, write on the event loop, or seal an entry that
cannot be queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.audit.chain import GENESIS, Entry, check_entry, seal
from agent.clock import SYSTEM_CLOCK, Clock
from agent.errors import AuditFullError

log = logging.getLogger(__name__)
TAIL_BYTES = 65536  # an entry is far smaller; the head is in the last one


class AuditLog:
    def __init__(self, path: str | Path, lane: str, *, clock: Clock = SYSTEM_CLOCK, max_pending: int = 10_000):
        self.path, self.lane, self.clock, self.max_pending = Path(path), lane, clock, max_pending
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.counters: Counter[str] = Counter()
        self.last_error: str | None = None
        self._write_failed: str | None = None
        self._listeners: list[Callable[[Entry], None]] = []
        torn = self._open_tail()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._pending: deque[tuple[bytes, asyncio.Future | None]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._writer, name="portedge-audit", daemon=True)
        self._thread.start()
        if torn:
            self.append("log", "lane", "torn_tail_cut", {"bytes": torn})

    # -- public ---------------------------------------------------------------------------
    @property
    def head(self) -> tuple[int, str]:
        return self._seq, self._prev

    @property
    def writable(self) -> bool:
        """Entries reach the disk now (the last write worked and the queue has room)."""
        return self._write_failed is None and len(self._pending) < self.max_pending

    def degraded(self) -> list[str]:
        if self.last_error is None and not self.counters["refused"]:
            return []
        return [f"audit log not written: {self.last_error or 'writer behind'} "
                f"({self.counters['refused']} entries refused)"]

    def add_listener(self, listener: Callable[[Entry], None]) -> None:
        """`listener(entry)` is called on the loop for every entry sealed (the console)."""
        self._listeners.append(listener)

    def append(self, kind: str, actor: str, what: str, detail: dict[str, Any] | None = None) -> asyncio.Future | None:
        """Seal an entry and queue it. Returns a future done once it is on disk (None when
        called without a running loop). Raises AuditFullError when the writer is too far behind."""
        return self._seal(kind, actor, what, detail)[1]

    async def record(self, kind: str, actor: str, what: str, detail: dict[str, Any] | None = None) -> Entry:
        """Append and wait until the entry is on disk."""
        entry, future = self._seal(kind, actor, what, detail)
        if future is not None:
            await future
        return entry

    def _seal(self, kind: str, actor: str, what: str, detail: dict[str, Any] | None) -> tuple[Entry, asyncio.Future | None]:
        with self._cond:
            if self._closing:
                raise AuditFullError("audit log is closed")
            if len(self._pending) >= self.max_pending:
                self.counters["refused"] += 1
                raise AuditFullError(f"audit writer {len(self._pending)} entries behind")
            entry = seal(self._seq + 1, self.clock.now().isoformat(), self.lane, kind, actor, what[:200],
                         detail or {}, self._prev)
            self._seq, self._prev = entry.seq, entry.hash
            try:
                future: asyncio.Future | None = asyncio.get_running_loop().create_future()
            except RuntimeError:
                future = None
            self._pending.append((entry.line(), future))
            self._cond.notify()
        self.counters[f"kind.{kind}"] += 1
        for listener in self._listeners:
            try:
                listener(entry)
            except Exception:  # a watcher must not stop the log
                log.exception("audit listener failed")
        return entry, future

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        os.close(self._fd)

    # -- the file -------------------------------------------------------------------------
    def _open_tail(self) -> int:
        """Find the head in the file's tail; cut a torn last line. Returns the bytes cut."""
        self._seq, self._prev = 0, GENESIS
        if not self.path.exists():
            return 0
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read()
        torn = 0
        if tail and not tail.endswith(b"\n"):
            torn = len(tail) - (tail.rfind(b"\n") + 1)
            with open(self.path, "r+b") as f:
                f.truncate(size - torn)
                os.fsync(f.fileno())
            log.warning("audit log %s: cut a torn last line (%d bytes, never acknowledged)", self.path, torn)
            tail = tail[: len(tail) - torn]
        lines = tail.splitlines(keepends=True)
        if lines:
            try:
                last = json.loads(lines[-1])
                self._seq, self._prev = int(last["seq"]), str(last["hash"])
            except (ValueError, KeyError, TypeError):
                # a damaged tail: keep appending after it; `portedge audit verify` names it
                log.error("audit log %s: last entry unreadable; run 'portedge audit verify'", self.path)
                self.last_error = "last entry unreadable"
        return torn

    def _writer(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending and self._closing:
                    return
                batch = list(self._pending)
                self._pending.clear()
            size = os.fstat(self._fd).st_size
            try:
                data = b"".join(line for line, _ in batch)
                if os.write(self._fd, data) != len(data):
                    raise OSError("short write (disk full?)")
                os.fsync(self._fd)
            except OSError as err:
                self._write_failed = str(err)
                with contextlib.suppress(OSError):  # a part-written batch was never acknowledged
                    os.ftruncate(self._fd, size)
                self.last_error = str(err)
                self.counters["write_failed"] += 1
                log.error("audit log write failed: %s", err)
                with self._cond:  # keep them, in order, for the next try
                    self._pending.extendleft(reversed(batch))
                    if self._closing:
                        return
                    self._cond.wait(1.0)
                continue
            self.last_error = self._write_failed = None
            for _, future in batch:
                if future is not None:
                    _resolve(future)


def _resolve(future: asyncio.Future) -> None:
    loop = future.get_loop()
    if loop.is_closed():
        return
    loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))


__all__ = ["AuditLog", "AuditFullError", "check_entry"]
