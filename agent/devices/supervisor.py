"""The device supervisor: keeps every driver's port open, and reopens the ones that fail.

Theory of operation. One asyncio task per driver runs this cycle forever:

    open() --ok--> status online --> serve() --raises/returns--> close() --> status --> backoff --+
      ^  \\--fails--> close() --> status offline ------------------------------------> backoff --+
      +--------------------------------------------------------------------------------------+

Status reported through the driver (and so to the sink as a `DeviceStatus`):
  - offline: the port could not be opened or was lost (`OSError`, `DeviceOffline`: USB
    unplug, socket closed, silent past `silence_timeout_s`);
  - error:   the driver itself raised something unexpected (a bug, a sink failure) - the
    device is retried all the same, because one device must never stop the others;
  - online:  the port is open and being served.

Backoff: the node's one backoff (agent.backoff) with equal jitter: attempt n waits
d/2 + U(0, d/2) with d = min(cap, base * 2**n), from the device's `reconnect_base_s` and
`reconnect_cap_s`. The attempt count resets once a session stayed online for at least `cap`
seconds or delivered bytes. Randomness comes from the injected seeded `random.Random`.

Invariants: a failure of one driver never cancels or delays another driver's task;
`stop()` returns only after every driver is closed (threads joined, ports released).
This module must never read or parse device bytes.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

from agent.backoff import Backoff, Jitter
from agent.clock import SYSTEM_CLOCK, Clock
from agent.contract.node import DeviceState
from agent.devices.base import Driver

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, drivers: Sequence[Driver], clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        self.drivers = list(drivers)
        self.clock = clock
        self.rng = rng or random.Random(0)
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    async def run(self) -> None:
        """Serve every driver until `stop()`; returns when all are closed. A `stop()` that came
        before this task first ran wins: the supervisor then starts nothing."""
        if self._stopping:
            return
        self._tasks = [asyncio.create_task(self._keep(d), name=f"device-{d.name}") for d in self.drivers]
        try:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            await self._cancel_all()

    def start(self) -> asyncio.Task:
        """Run in the background; `await stop()` later."""
        self._stopping = False
        for driver in self.drivers:
            driver.stopping = False
        return asyncio.create_task(self.run(), name="device-supervisor")

    async def stop(self) -> None:
        self._stopping = True
        await self._cancel_all()

    async def _cancel_all(self) -> None:
        tasks, self._tasks = self._tasks, []
        for driver in self.drivers:
            driver.stopping = True
        pending = set(tasks)
        while pending:
            # again and again: on Python 3.11 an asyncio.wait_for inside a library (pymodbus
            # has them) can swallow a cancel that lands as its inner await completes
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)

    async def _keep(self, driver: Driver) -> None:
        cfg = driver.config
        backoff = Backoff(cfg.reconnect_base_s, cfg.reconnect_cap_s, self.rng, Jitter.EQUAL)
        opened_before = False
        try:
            while not self._stopping:
                state, detail, healthy = await self._session(driver, opened_before)
                opened_before = opened_before or driver.counters.get("opens", 0) > 0
                if self._stopping:
                    break
                if healthy:
                    backoff.reset()
                await self._report(driver, state, detail)
                delay = backoff.next_delay()
                log.debug("device %s: retry in %.2f s (attempt %d)", driver.name, delay, backoff.attempt)
                await asyncio.sleep(delay)
        finally:
            await self._close(driver)
            await self._report(driver, "offline", "stopped")

    async def _session(self, driver: Driver, reopening: bool) -> tuple[DeviceState, str, bool]:
        """One open/serve/close round. Returns the status to report, why, and whether the
        session was healthy (long enough or delivered bytes: the backoff starts over)."""
        try:
            await driver.open()
        except OSError as err:
            await self._close(driver)
            driver.count("open_failures")
            return "offline", f"cannot open: {err}", False
        except Exception as err:  # noqa: BLE001 - a driver bug must not stop the other devices
            log.exception("device %s: open failed unexpectedly", driver.name)
            await self._close(driver)
            driver.count("errors")
            return "error", f"open failed: {type(err).__name__}: {err}", False
        driver.count("opens")
        if reopening:
            driver.count("reconnects")
        await self._report(driver, "online", "")
        started = self.clock.monotonic()
        bytes_before = driver.counters.get("bytes", 0)
        state: DeviceState
        try:
            await driver.serve()
            state, detail = "offline", "serve ended"
        except OSError as err:
            driver.count("port_lost")
            state, detail = "offline", str(err)
        except Exception as err:  # noqa: BLE001 - see above
            log.exception("device %s: driver failed", driver.name)
            driver.count("errors")
            state, detail = "error", f"{type(err).__name__}: {err}"
        finally:
            await self._close(driver)
        cap = driver.config.reconnect_cap_s
        healthy = self.clock.monotonic() - started >= cap or driver.counters.get("bytes", 0) > bytes_before
        return state, detail, healthy

    async def _close(self, driver: Driver) -> None:
        try:
            await asyncio.shield(driver.close())
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - closing a broken port may fail; it is gone either way
            log.debug("device %s: close failed", driver.name, exc_info=True)

    async def _report(self, driver: Driver, state: DeviceState, detail: str) -> None:
        try:
            await driver.set_status(state, detail)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a sink that cannot take a status must not stop the device
            log.warning("device %s: status %s not delivered", driver.name, state, exc_info=True)
