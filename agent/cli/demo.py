"""`portedge demo`: the simulated port (see simulators/demo.py).

agent/ never imports the simulators at import time; this command module loads them only
when the demo runs, and the simulators ship in the same distribution (`portedge[sim]`)."""

from __future__ import annotations

import importlib


def add_arguments(parser) -> None:
    importlib.import_module("simulators.demo").add_arguments(parser)


def run(args) -> int:
    return importlib.import_module("simulators.demo").run(args)
