"""One poll loop driving many paho clients: the fleet's engine.

Why not `loop_start()` per client: each one is a thread plus three file descriptors, and
paho's own loop uses select(), which fails past fd 1024 (measured: ~340 clients per process).
Here every client's socket sits in the agent's `PahoSockets` (agent/link/paho_sockets.py: one
selector, epoll on Linux, fed by paho 2.x's external-loop hooks), and this loop adds timers.
A paho client driven this way opens no socket pair and no thread: one fd per node.

Timers (`call_later`) run on the same thread, so node code never needs a lock. Everything that
touches a client must run on this thread: this module must never be called from another one
except through `stop()`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import resource
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from agent.link.paho_sockets import PahoSockets

log = logging.getLogger(__name__)

#: how often every client's keepalive/ping bookkeeping (`loop_misc`) runs
MISC_EVERY_S = 1.0


def raise_fd_limit() -> int:
    """Lift this process's soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 16)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as err:  # a container may cap it lower: run with what we have
            log.warning("could not raise the fd limit to %s: %s", hard, err)
    return soft


class Timer:
    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], None]):
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class PollLoop:
    """A selector loop with timers. `attach(client)` hands a paho client's I/O to it."""

    def __init__(self) -> None:
        self.sockets = PahoSockets()
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._misc_started = False
        self._timer_errors = 0

    @property
    def errors(self) -> int:
        """Client I/O and timers that raised: counted, logged, never fatal."""
        return self.sockets.errors + self._timer_errors

    # -- timers ---------------------------------------------------------------------------

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + max(0.0, delay_s), fn)
        heapq.heappush(self._timers, (timer.when, next(self._order), timer))
        return timer

    def every(self, period_s: float, fn: Callable[[], None], first_s: float | None = None) -> None:
        def tick() -> None:
            fn()
            self.call_later(period_s, tick)

        self.call_later(period_s if first_s is None else first_s, tick)

    # -- clients --------------------------------------------------------------------------

    def attach(self, client: mqtt.Client) -> None:
        """Hand a paho client's I/O to this loop."""
        self.sockets.attach(client)

    # -- running --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to return (safe from any thread; it notices within ~0.1 s)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, until: float | None = None) -> None:
        """Run until `stop()` or until monotonic time `until`."""
        self._serve(until, obey_stop=True)

    def pump(self, seconds: float) -> None:
        """Serve I/O and due timers for a while, even after `stop()` (for a clean shutdown)."""
        self._serve(time.monotonic() + seconds, obey_stop=False)

    def _serve(self, until: float | None, obey_stop: bool) -> None:
        if not self._misc_started:
            self._misc_started = True
            self.every(MISC_EVERY_S, self.sockets.misc)
        while not (obey_stop and self._stop.is_set()):
            now = time.monotonic()
            if until is not None and now >= until:
                return
            self._run_due(now)
            timeout = 0.1
            if self._timers:
                timeout = min(timeout, max(0.0, self._timers[0][0] - time.monotonic()))
            self.sockets.poll(timeout)

    def _run_due(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            try:
                timer.fn()
            except Exception:  # noqa: BLE001 - a failing node timer is counted, not fatal
                self._timer_errors += 1
                log.exception("fleet: timer failed")

    def close(self) -> None:
        self.sockets.close()
