"""Helpers for the serial device tests: sinks, configs, and waiting on events.

Waits have generous ceilings (they end as soon as the event arrives); nothing asserts speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config import devices as cfg
from agent.contract.devices import Scan, Weight
from agent.contract.node import DeviceStatus
from agent.devices.supervisor import Supervisor

WAIT_S = 15.0
FAST = dict(reconnect_base_s=0.05, reconnect_cap_s=0.4)


class RecordingSink:
    """A DeviceSink that keeps everything and lets a test await a condition on it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._changed: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    async def emit(self, device: str, event: Any) -> None:
        self.events.append((device, event))
        self._event().set()

    def of(self, device: str, kind: type) -> list[Any]:
        return [e for d, e in self.events if d == device and isinstance(e, kind)]

    def scans(self, device: str) -> list[Scan]:
        return self.of(device, Scan)

    def weights(self, device: str) -> list[Weight]:
        return self.of(device, Weight)

    def statuses(self, device: str) -> list[str]:
        return [s.status for s in self.of(device, DeviceStatus)]

    async def until(self, check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        async def wait() -> Any:
            while True:
                result = check()
                if result:
                    return result
                self._event().clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event().wait(), 0.05)

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"never happened: {what}; events: {self.events[-12:]}") from None


class SqliteScanSink(RecordingSink):
    """Commits each scan to a table in a real SQLite file before `emit` returns, like the
    outbox does. `fail_next` makes the next emit die before its commit; `gate`, when set,
    holds every emit before its commit until the gate opens. `order` logs 'commit:<data>'
    from the loop thread; tests append 'ack:<data>' from the scanner's side."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        db = sqlite3.connect(path)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS scans (id INTEGER PRIMARY KEY, device TEXT, data TEXT)")
            db.commit()
        finally:
            db.close()
        self.fail_next = 0
        self.gate: asyncio.Event | None = None
        self.entered = 0  # emits that reached the sink (before any commit)
        self.order: list[str] = []
        self.order_lock = threading.Lock()

    def _commit(self, device: str, data: str) -> None:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.execute("INSERT INTO scans (device, data) VALUES (?, ?)", (device, data))
            db.commit()
        finally:
            db.close()

    async def emit(self, device: str, event: Any) -> None:
        if isinstance(event, Scan):
            self.entered += 1
            self._event().set()
            if self.fail_next:
                self.fail_next -= 1
                raise OSError("agent died before the commit")
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.to_thread(self._commit, device, event.data)
            with self.order_lock:
                self.order.append(f"commit:{event.data}")
        await super().emit(device, event)

    def stored(self) -> list[str]:
        return stored_scans(self.path)


def stored_scans(path: Path) -> list[str]:
    """What another process would see in the file right now."""
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT data FROM scans ORDER BY id")]
    finally:
        db.close()


def plain_scanner(name: str, port: str, **kw: Any) -> cfg.PlainScanner:
    return cfg.PlainScanner(kind="scanner", name=name, port=port, **{**FAST, **kw})


def ssi_scanner(name: str, port: str, **kw: Any) -> cfg.SsiScanner:
    return cfg.SsiScanner(kind="ssi_scanner", name=name, port=port, **{**FAST, **kw})


def toledo(name: str, port: str, **kw: Any) -> cfg.ToledoIndicator:
    return cfg.ToledoIndicator(kind="toledo", name=name, port=port, **{**FAST, **kw})


def yaohua(name: str, port: str, **kw: Any) -> cfg.YaohuaIndicator:
    return cfg.YaohuaIndicator(kind="yaohua", name=name, port=port, **{**FAST, **kw})


@contextlib.asynccontextmanager
async def supervised(*drivers: Any, seed: int = 7):
    """Run drivers under a Supervisor for the body of the `async with`; always stopped."""
    sup = Supervisor(list(drivers), rng=random.Random(seed))
    task = sup.start()
    try:
        yield sup
    finally:
        await sup.stop()
        await task
