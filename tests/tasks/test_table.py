"""The transition table itself: its invariants, and that anything missing is refused."""

from __future__ import annotations

import pytest

from agent.errors import IllegalTransition
from agent.tasks.table import FINAL, NEW, TABLE, Act, Ev, step


def test_every_change_of_state_emits_one_update():
    for (state, event), target in TABLE.items():
        if target.state != state:
            assert target.actions.count(Act.EMIT) == 1, (state, event)


def test_final_states_are_left_only_by_a_new_assignment():
    for (state, event) in TABLE:
        if state in FINAL:
            assert event is Ev.REASSIGN_HERE and TABLE[(state, event)].state == "ASSIGNED"
    with pytest.raises(IllegalTransition):
        step("COMPLETED", Ev.REASSIGN_HERE)


@pytest.mark.parametrize("state", ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED", "EXCEPTION"])
def test_the_platform_can_withdraw_any_open_task(state):
    assert step(state, Ev.CANCEL).state == "CANCELLED"
    assert step(state, Ev.REASSIGN).state == "REASSIGNED"
    assert Act.NOTICE in step(state, Ev.CANCEL).actions


def test_the_happy_path_is_in_the_table():
    path = [(NEW, Ev.ASSIGN), ("ASSIGNED", Ev.ACCEPT), ("ACCEPTED", Ev.SOURCE_OK), ("AT_SOURCE", Ev.PIECE_OK),
            ("AT_SOURCE", Ev.LAST_PIECE_OK), ("PICKED", Ev.DESTINATION_OK), ("DELIVERED", Ev.COMPLETE)]
    states = [step(s, e).state for s, e in path]
    assert states == ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "AT_SOURCE", "PICKED", "DELIVERED", "COMPLETED"]


@pytest.mark.parametrize("state, event", [("ASSIGNED", Ev.SOURCE_OK), ("ACCEPTED", Ev.COMPLETE),
                                          ("PICKED", Ev.PIECE_OK), ("EXCEPTION", Ev.ACCEPT), ("COMPLETED", Ev.CANCEL)])
def test_missing_pairs_raise_a_named_error(state, event):
    with pytest.raises(IllegalTransition) as err:
        step(state, event)
    assert (err.value.state, err.value.event) == (state, event)


def test_docs_tasks_md_is_generated_from_the_table():
    from pathlib import Path

    from agent.tasks.diagram import markdown

    committed = Path(__file__).resolve().parents[2] / "docs" / "tasks.md"
    assert committed.read_text(encoding="utf-8") == markdown(), "run: python -m agent.tasks.diagram > docs/tasks.md"
