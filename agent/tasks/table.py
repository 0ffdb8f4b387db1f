"""The task state machine as a table: (state, event) -> (next state, actions). Pure.

Theory of operation: the board turns a driver's scan or tap, or a platform command, into one
of the events below (scan interpretation lives in `agent.tasks.scans`), looks up the pair
here and carries out the actions. A pair missing from the table is an `IllegalTransition`:
for the driver that is a refused action ("wrong_state"), for the platform a refused command.

Invariants:
- Only the events in TABLE move a task; a refused scan is not an event.
- Every change of state has EMIT among its actions (one TaskUpdate per transition).
- COMPLETED, CANCELLED and REASSIGNED are final: nothing leaves them, except that the platform
  may assign a CANCELLED/REASSIGNED task id to this PDA again (it starts over as ASSIGNED).
- The platform can withdraw a task in any non-final state, even mid-way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import cast, get_args

from agent.contract.tasks import TaskState
from agent.errors import IllegalTransition


class State(StrEnum):
    """A task's state on this PDA. The values are the contract's `TaskState` strings (what
    `TaskUpdate.state` carries), plus NEW: a task id this PDA has never seen (not a wire state)."""

    NEW = "NEW"
    ASSIGNED = "ASSIGNED"
    ACCEPTED = "ACCEPTED"
    AT_SOURCE = "AT_SOURCE"
    PICKED = "PICKED"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    EXCEPTION = "EXCEPTION"
    CANCELLED = "CANCELLED"
    REASSIGNED = "REASSIGNED"

    @property
    def wire(self) -> TaskState:
        """The contract's string for this state (NEW has none: nothing is sent about it)."""
        if self is State.NEW:
            raise ValueError("NEW is not a task state on the wire")
        return cast(TaskState, self.value)


if {s.value for s in State} - {"NEW"} != set(get_args(TaskState)):  # the contract moved: follow it here
    raise AssertionError("agent.tasks.table.State and agent.contract.tasks.TaskState differ")

NEW = State.NEW
FINAL: frozenset[State] = frozenset({State.COMPLETED, State.CANCELLED, State.REASSIGNED})
#: states the driver's list shows (EXCEPTION stays until the platform withdraws it), in order
OPEN: tuple[State, ...] = (State.ASSIGNED, State.ACCEPTED, State.AT_SOURCE, State.PICKED, State.DELIVERED,
                           State.EXCEPTION)
VISIBLE: frozenset[State] = frozenset(OPEN)
#: states in which the driver is working on the task (scans apply)
WORKING: frozenset[State] = frozenset({State.ACCEPTED, State.AT_SOURCE, State.PICKED, State.DELIVERED})
#: states a task leaves the PDA in when the platform withdraws it (it may come back)
WITHDRAWN: frozenset[State] = frozenset({State.CANCELLED, State.REASSIGNED})


class Ev(StrEnum):
    ASSIGN = "assign"              # platform: a new task for this PDA
    ACCEPT = "accept"              # driver taps accept
    SOURCE_OK = "source_ok"        # scan matched the source location
    PIECE_OK = "piece_ok"          # scan matched a piece, more to go
    LAST_PIECE_OK = "last_piece"   # scan matched the last missing piece
    DESTINATION_OK = "dest_ok"     # scan matched the destination
    COMPLETE = "complete"          # driver confirms
    EXCEPTION = "exception"        # driver reports a problem
    CANCEL = "cancel"              # platform: cancelled
    REASSIGN = "reassign"          # platform: given to another PDA/driver
    REASSIGN_HERE = "assign_again" # platform: a withdrawn task id assigned here again


class Act(StrEnum):
    EMIT = "emit"                  # record one TaskUpdate
    ADD_PIECE = "add_piece"        # remember the piece key
    ACTIVATE = "activate"          # scans now go to this task
    DEACTIVATE = "deactivate"      # scans no longer go to this task
    NOTICE = "notice"              # tell the driver (withdrawn task)
    RESET = "reset"                # forget progress (task starts over)


@dataclass(frozen=True, slots=True)
class Step:
    state: State  # never NEW
    actions: tuple[Act, ...]


S = State
_WITHDRAW = {
    Ev.CANCEL: Step(S.CANCELLED, (Act.EMIT, Act.DEACTIVATE, Act.NOTICE)),
    Ev.REASSIGN: Step(S.REASSIGNED, (Act.EMIT, Act.DEACTIVATE, Act.NOTICE)),
}
_REPORT = {Ev.EXCEPTION: Step(S.EXCEPTION, (Act.EMIT, Act.DEACTIVATE))}

TABLE: dict[tuple[State, Ev], Step] = {
    (S.NEW, Ev.ASSIGN): Step(S.ASSIGNED, (Act.EMIT, Act.NOTICE)),
    (S.ASSIGNED, Ev.ACCEPT): Step(S.ACCEPTED, (Act.EMIT, Act.ACTIVATE)),
    (S.ACCEPTED, Ev.SOURCE_OK): Step(S.AT_SOURCE, (Act.EMIT,)),
    (S.AT_SOURCE, Ev.PIECE_OK): Step(S.AT_SOURCE, (Act.ADD_PIECE,)),
    (S.AT_SOURCE, Ev.LAST_PIECE_OK): Step(S.PICKED, (Act.ADD_PIECE, Act.EMIT)),
    (S.PICKED, Ev.DESTINATION_OK): Step(S.DELIVERED, (Act.EMIT,)),
    (S.DELIVERED, Ev.COMPLETE): Step(S.COMPLETED, (Act.EMIT, Act.DEACTIVATE)),
    **{(s, e): st for s in OPEN[:-1] for e, st in _REPORT.items()},
    **{(s, e): st for s in OPEN for e, st in _WITHDRAW.items()},
    (S.CANCELLED, Ev.REASSIGN_HERE): Step(S.ASSIGNED, (Act.RESET, Act.EMIT, Act.NOTICE)),
    (S.REASSIGNED, Ev.REASSIGN_HERE): Step(S.ASSIGNED, (Act.RESET, Act.EMIT, Act.NOTICE)),
}


def step(state: State, event: Ev) -> Step:
    """The next state and actions, or IllegalTransition."""
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def _check_invariants() -> None:
    for (state, _event), target in TABLE.items():
        if target.state != state and Act.EMIT not in target.actions:
            raise AssertionError(f"{state}->{target.state} changes state without an update")
        if state in FINAL and _event is not Ev.REASSIGN_HERE:
            raise AssertionError(f"{state} is final")


_check_invariants()
