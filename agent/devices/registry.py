"""Device kind -> driver class, imported only when a node uses that kind (a gate station
without a camera never imports the HTTP listener)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agent.clock import SYSTEM_CLOCK, Clock
from agent.devices.base import Driver
from agent.interfaces import DeviceSink

if TYPE_CHECKING:
    from agent.config.model import NodeConfig

#: kind (as in the config's `kind`) -> "module:Class"
DRIVERS: dict[str, str] = {
    "scanner": "agent.devices.scanner:PlainScannerDriver",
    "ssi_scanner": "agent.devices.ssi_scanner:SsiScannerDriver",
    "toledo": "agent.devices.weighbridge:ToledoDriver",
    "yaohua": "agent.devices.weighbridge:YaohuaDriver",
    "gate_io": "agent.devices.gate_io:GateIoDriver",
    "camera": "agent.devices.camera:CameraDriver",
    "idcard_reader": "agent.devices.idcard_reader:IdCardReaderDriver",
    "badge_reader": "agent.devices.badge_reader:BadgeReaderDriver",
    "turnstile": "agent.devices.turnstile:TurnstileDriver",
}


def driver_class(kind: str) -> type[Driver]:
    try:
        target = DRIVERS[kind]
    except KeyError:
        raise KeyError(f"no driver for device kind {kind!r}; known: {', '.join(DRIVERS)}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


#: kinds in the config that have no driver here (fed by something else)
NOT_DRIVEN = {"wedge": "keyboard-wedge scans are fed by the PDA app, not read from a port"}


def build_drivers(config: NodeConfig, sink: DeviceSink, clock: Clock = SYSTEM_CLOCK) -> list[Driver]:
    """One driver per device in the node config, in config order (wedges are skipped)."""
    return [driver_class(d.kind)(d, sink, clock) for d in config.devices if d.kind not in NOT_DRIVEN]
