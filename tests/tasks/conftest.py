"""Fixtures of the task board tests (the fakes are in fakes.py)."""

from __future__ import annotations

import asyncio

import pytest

from .fakes import Rig


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    asyncio.run(made.board.close())
