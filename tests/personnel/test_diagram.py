"""docs/personnel.md carries the diagram and register map rendered from the current code."""

from __future__ import annotations

from pathlib import Path

from agent.personnel.diagram import blocks
from agent.personnel.events import State
from agent.personnel.table import TABLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "personnel.md"


def test_docs_contain_the_current_rendering():
    text = DOC.read_text(encoding="utf-8")
    for (begin, end), fresh in blocks().items():
        assert f"{begin}\n{fresh}\n{end}" in text, "regenerate: python -m agent.personnel.diagram docs/personnel.md"


def test_every_state_is_reachable():
    reached = {State.IDLE} | {t for rule in TABLE.values() for t in rule.targets}
    assert reached == set(State)
