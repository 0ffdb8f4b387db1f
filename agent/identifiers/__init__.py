"""Identifiers of the port, checked and normalised: each parser returns a `Checked` (a value
or a reason), never raises on bad input, never guesses a correction."""

from agent.identifiers.awb import check_awb, format_awb
from agent.identifiers.container import check_container
from agent.identifiers.gs1 import check_sscc, parse_gs1
from agent.identifiers.location import LocationChecker, check_location
from agent.identifiers.plate import PROVINCES, PlateChecker, check_plate
from agent.identifiers.result import Checked

__all__ = [
    "Checked", "check_awb", "format_awb", "check_container", "check_sscc", "parse_gs1",
    "LocationChecker", "check_location", "PROVINCES", "PlateChecker", "check_plate",
]
