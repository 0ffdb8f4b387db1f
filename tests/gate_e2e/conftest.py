"""Fixtures of the gate lane end-to-end scenarios (the lane itself is in lane.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .lane import LaneSetup


@pytest.fixture
def lane_run(mosquitto, tmp_path):
    """`lane_run(scenario, **options)`: open a LaneSetup (options go to `LaneSetup.open`), run
    `async scenario(lane)` on a fresh event loop, close everything, return the scenario's result."""

    def run(scenario: Callable[[LaneSetup], Awaitable[Any]], timeout: float = 120.0, **options: Any) -> Any:
        async def main() -> Any:
            lane = await LaneSetup.open(mosquitto.url, tmp_path, **options)
            task = asyncio.ensure_future(scenario(lane))
            try:
                done, _ = await asyncio.wait([task], timeout=timeout)
                if not done:  # say where it hangs before giving up (pytest-timeout would only show the loop)
                    for t in asyncio.all_tasks():
                        t.print_stack(limit=15, file=sys.stderr)
                    task.cancel()
                    raise AssertionError(f"scenario did not finish within {timeout:g}s")
                return task.result()
            finally:
                await lane.close()

        return asyncio.run(main())

    return run
