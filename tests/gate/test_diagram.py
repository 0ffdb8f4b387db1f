"""docs/gate.md carries the diagram rendered from the current table."""

from __future__ import annotations

from pathlib import Path

from agent.gate.diagram import block, edges, register_map
from agent.gate.events import State

DOC = Path(__file__).resolve().parents[2] / "docs" / "gate.md"


def test_docs_contain_the_current_rendering():
    text = DOC.read_text(encoding="utf-8")
    assert block() in text, "regenerate: python -m agent.gate.diagram"
    assert register_map() in text, "regenerate: python -m agent.gate.diagram"


def test_every_state_is_reachable_and_the_happy_path_is_drawn():
    drawn = edges()
    reached = {State.IDLE} | {dst for _, dst in drawn}
    assert reached == set(State)
    path = [State.IDLE, State.ARRIVED, State.IDENTIFIED, State.WEIGHED, State.VERIFYING, State.DECIDED,
            State.BARRIER_OPEN, State.PASSED, State.CLOSED, State.IDLE]
    assert all((a, b) in drawn for a, b in zip(path, path[1:], strict=False))
