"""The two events every lane's table answers whatever the lane is (gate or personnel); each
lane's vocabulary (agent/gate/events.py, agent/personnel/events.py) names them as its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tick:
    """The clock: offered periodically so deadlines fire."""


@dataclass(frozen=True)
class Advance:
    """Internal: offered after every transition so pass-through states move on at once."""
