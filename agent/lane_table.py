"""A row of a lane's transition table, the same for every lane (agent/gate/table.py,
agent/personnel/table.py): the rule to run, the states it may go to, and the diagram's labels;
and `settle`, how a lane runs its table for one event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from agent.lane_events import Advance

LaneT = TypeVar("LaneT")
EventT = TypeVar("EventT")
StateT = TypeVar("StateT")


@dataclass(frozen=True)
class Rule(Generic[LaneT, EventT, StateT]):
    fn: Callable[[LaneT, EventT], StateT]  # (lane, event) -> the state the lane goes to
    targets: tuple[StateT, ...]
    label: str = ""  # shown on the diagram edge when the event name is not enough
    labels: tuple[tuple[StateT, str], ...] = ()  # per-target edge labels, where they differ

    def label_for(self, target: StateT, kind: type) -> str:
        return dict(self.labels).get(target) or self.label or kind.__name__


class _Lane(Protocol):
    state: Any
    counters: Counter[str]


RuleT = TypeVar("RuleT")


def settle(lane: _Lane, lookup: Callable[[Any, type], RuleT | None], event: object,
           apply: Callable[[RuleT, Any], None], *, max_advance: int, what: str) -> None:
    """Run the lane's rule for `event` (or count the event ignored when its state has none),
    then offer `Advance` until the lane stays put: a table that keeps moving more than
    `max_advance` times is a bug in the table, raised, never looped on."""
    rule = lookup(lane.state, type(event))
    if rule is None:
        lane.counters[f"ignored.{lane.state.value}.{type(event).__name__}"] += 1
        return
    apply(rule, event)
    for _ in range(max_advance):
        advance = lookup(lane.state, Advance)
        if advance is None:
            return
        before = lane.state
        apply(advance, Advance())
        if lane.state is before:
            return
    raise RuntimeError(f"{what} loops on Advance from {lane.state}")
