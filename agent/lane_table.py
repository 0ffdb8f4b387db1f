"""A row of a lane's transition table, the same for every lane (agent/gate/table.py,
agent/personnel/table.py): the rule to run, the states it may go to, and the diagram's labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

LaneT = TypeVar("LaneT")
StateT = TypeVar("StateT")


@dataclass(frozen=True)
class Rule(Generic[LaneT, StateT]):
    fn: Callable[[LaneT, object], StateT]  # (lane, event) -> the state the lane goes to
    targets: tuple[StateT, ...]
    label: str = ""  # shown on the diagram edge when the event name is not enough
    labels: tuple[tuple[StateT, str], ...] = ()  # per-target edge labels, where they differ

    def label_for(self, target: StateT, kind: type) -> str:
        return dict(self.labels).get(target) or self.label or kind.__name__
