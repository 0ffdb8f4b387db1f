"""Identifiers of the port, checked and normalised: each parser returns a `Checked` (a value
or a reason), never raises on bad input, never guesses a correction.

The names below load on first use (PEP 562): a gate lane checks plates and containers and never
pays for GS1, whose parser (biip) brings about 15 MB of decoded tables with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import names_on_first_use

#: name -> the module under agent.identifiers that holds it
_HOME = {
    "Checked": "result",
    "check_awb": "awb", "format_awb": "awb",
    "check_container": "container",
    "check_sscc": "gs1", "parse_gs1": "gs1",
    "LocationChecker": "location", "check_location": "location",
    "PROVINCES": "plate", "PlateChecker": "plate", "check_plate": "plate",
}

__all__ = [
    "Checked", "check_awb", "format_awb", "check_container", "check_sscc", "parse_gs1",
    "LocationChecker", "check_location", "PROVINCES", "PlateChecker", "check_plate",
]
assert set(__all__) == set(_HOME)

if TYPE_CHECKING:
    from agent.identifiers.awb import check_awb, format_awb
    from agent.identifiers.container import check_container
    from agent.identifiers.gs1 import check_sscc, parse_gs1
    from agent.identifiers.location import LocationChecker, check_location
    from agent.identifiers.plate import PROVINCES, PlateChecker, check_plate
    from agent.identifiers.result import Checked


__getattr__ = names_on_first_use(__name__, _HOME)
