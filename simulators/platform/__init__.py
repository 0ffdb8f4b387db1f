"""The central platform, simulated: ledger (the tests' oracle), answers, commands, orders."""

from simulators.platform.ledger import Ledger, NodeAudit
from simulators.platform.sim import PlatformSim, Preadvice

__all__ = ["Ledger", "NodeAudit", "PlatformSim", "Preadvice"]
