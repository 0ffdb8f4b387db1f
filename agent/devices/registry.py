"""Device kind -> driver, from the one registry in agent.config.devices (`KINDS`): each row
names its config model and its driver class; the driver's module is imported only when a
node uses that kind (a gate station without a camera never imports the HTTP listener)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.devices import KINDS
from agent.devices.base import Driver
from agent.interfaces import DeviceSink

if TYPE_CHECKING:
    from agent.config.model import NodeConfig


def driver_class(kind: str) -> type[Driver[Any]]:
    """The driver class of a device kind; KeyError for a kind no driver here runs."""
    row = KINDS.get(kind)
    if row is None or row.driver is None:
        why = f"no device kind {kind!r}" if row is None else f"device kind {kind!r} has no driver: {row.not_driven}"
        driven = ", ".join(k for k, r in KINDS.items() if r.driver is not None)
        raise KeyError(f"{why}; driven kinds: {driven}")
    module_name, class_name = row.driver.split(":")
    found = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(found, type) and issubclass(found, Driver)):
        raise TypeError(f"{row.driver} (the driver of kind {kind!r}) is not a Driver")
    return found


def build_drivers(config: NodeConfig, sink: DeviceSink, clock: Clock = SYSTEM_CLOCK) -> list[Driver[Any]]:
    """One driver per device in the node config, in config order (kinds without a driver,
    such as wedges, are skipped)."""
    return [driver_class(d.kind)(d, sink, clock) for d in config.devices if KINDS[d.kind].driver is not None]
