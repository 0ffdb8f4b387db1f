"""The attack suite: one test (or a few) per finding of an attack pass on a lane (issue 10).

Every test in this folder is marked `attack` automatically, so the suite runs alone with

    .venv/bin/python -m pytest -m attack

and also as part of `./dev test`. A test here plays the attacker or the hostile
environment (another node's credentials, a flooding peer, a noisy serial line, a hostile
HTTP client, a full or vanished disk) against the real parts - mosquitto, ptys, the Modbus
controller stub - and asserts what docs/security.md says is proven. Name each file after the
finding it covers (test_identity.py, test_bounds_camera.py, ...), keep each test quick.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.attack)
