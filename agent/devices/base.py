"""Driver base: one device, one port, one reader. The supervisor owns reopen and backoff.

A driver subclass implements:
  - `open()`  -> opens its port (serial URL, Modbus client, HTTP listener); raises OSError
                 (or `DeviceOffline`) when the device is not there;
  - `serve()` -> reads until the port fails (raise OSError/`DeviceOffline`) or the driver is
                 stopped; feeds bytes to its sans-I/O codec and `await self.emit(event)`;
  - `close()` -> releases the port; must be safe to call twice.

`Driver[ConfigT]` is generic in its config model (agent.config.devices), so `self.config` is
typed: `class CameraDriver(Driver[Camera])`. Which driver runs which kind is the registry's
row (agent.config.devices.KINDS); the driver's `kind` is its config's.

The base keeps counters (frames, garbled, reconnects, ...) and the device's status, and tells
the sink about every status change as a `DeviceStatus` contract model. A driver never sleeps
on the event loop thread in a blocking call: serial reads run in a thread (`to_thread`) or via
non-blocking I/O.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Generic, TypeVar

from agent.clock import SYSTEM_CLOCK, Clock
from agent.codecs.base import Garbled
from agent.config.devices import DeviceSettings
from agent.contract.node import DeviceState, DeviceStatus
from agent.interfaces import DeviceSink

log = logging.getLogger(__name__)


ConfigT = TypeVar("ConfigT", bound=DeviceSettings)


class Driver(Generic[ConfigT]):
    def __init__(self, config: ConfigT, sink: DeviceSink, clock: Clock = SYSTEM_CLOCK):
        self.config: ConfigT = config
        self.name: str = config.name
        self.kind: str = config.kind
        self.sink = sink
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.state: DeviceState = "offline"
        self.stopping = False  # set by the supervisor before it cancels: loops end on it too
        self.detail: str = "not opened yet"

    # -- to implement -------------------------------------------------------------------
    async def open(self) -> None:
        raise NotImplementedError

    async def serve(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    async def emit(self, event: Any) -> None:
        await self.sink.emit(self.name, event)

    def count(self, what: str, n: int = 1) -> None:
        self.counters[what] += n

    def count_garbled(self, event: Garbled) -> None:
        """Bytes the codec skipped while resynchronising: counted and logged, never raised."""
        self.counters["garbled"] += 1
        self.counters["garbled_bytes"] += len(event.data)
        log.debug("device %s: garbled %s: %r", self.name, event.reason, event.data[:64])

    def status_model(self) -> DeviceStatus:
        return DeviceStatus(
            device=self.name, kind=self.kind, status=self.state, detail=self.detail, counters=dict(self.counters)
        )

    async def set_status(self, state: DeviceState, detail: str = "") -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        log.info("device %s (%s) is %s %s", self.name, self.kind, state, detail, extra={"device": self.name})
        await self.sink.emit(self.name, self.status_model())
