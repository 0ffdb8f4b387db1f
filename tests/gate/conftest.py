"""Fixtures of the gate lane tests (the fakes are in fakes.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .fakes import Rig


@pytest.fixture
def play(tmp_path):
    """`play(scenario, **gate_settings)`: run `async scenario(rig)` on a started station with
    fakes at its seams, in a fresh event loop; the station is closed afterwards."""

    def run(scenario: Callable[[Rig], Awaitable[Any]], start: bool = True, **settings: Any) -> Rig:
        async def main() -> Rig:
            rig = Rig(tmp_path, **settings)
            try:
                if start:
                    await rig.station.start()
                await scenario(rig)
            finally:
                await rig.close()
            return rig

        return asyncio.run(main())

    return run
