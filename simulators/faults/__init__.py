"""Fault injection: the TCP fault proxy (network), plus the hooks scenarios use elsewhere
(broker restarts: simulators.mosquitto; serial noise and unplugs: simulators.vserial)."""

from simulators.faults.proxy import FaultProxy

__all__ = ["FaultProxy"]
