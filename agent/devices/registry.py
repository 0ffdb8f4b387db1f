"""Device kind -> driver class, imported only when a node uses that kind (a gate station
without a camera never imports the HTTP listener)."""

from __future__ import annotations

import importlib

from agent.devices.base import Driver

#: kind (as in the config's `kind`) -> "module:Class"
DRIVERS: dict[str, str] = {
    "scanner": "agent.devices.scanner:PlainScannerDriver",
    "ssi_scanner": "agent.devices.ssi_scanner:SsiScannerDriver",
    "toledo": "agent.devices.weighbridge:ToledoDriver",
    "yaohua": "agent.devices.weighbridge:YaohuaDriver",
    "gate_io": "agent.devices.gate_io:GateIoDriver",
    "camera": "agent.devices.camera:CameraDriver",
}


def driver_class(kind: str) -> type[Driver]:
    try:
        target = DRIVERS[kind]
    except KeyError:
        raise KeyError(f"no driver for device kind {kind!r}; known: {', '.join(DRIVERS)}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
