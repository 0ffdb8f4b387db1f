"""Warehouse storage locations, as printed on rack labels and scanned by forklift drivers.

Default shape: zone-aisle-bay-level, e.g. "A-03-12-2". Scans arrive in many spellings (lower
case, spaces or underscores for dashes, aisle without its leading zero); all normalise to
one form so a task's source location and a driver's scan compare equal. Sites with another
scheme pass their own pattern (and optionally a format using its named groups).
Never accept a location the pattern does not describe: a wrong bay is a lost piece.
"""

from __future__ import annotations

import re

from agent.identifiers.result import Checked

DEFAULT_PATTERN = r"^(?P<zone>[A-Z]{1,3})[-_ /.]?(?P<aisle>\d{1,2})[-_ /.](?P<bay>\d{1,2})[-_ /.](?P<level>\d)$"
DEFAULT_FORMAT = "{zone}-{aisle:0>2}-{bay:0>2}-{level}"


class LocationChecker:
    """Check and normalise location codes (pattern None = the default). With a custom pattern
    and no format, the normal form is the input upper-cased with surrounding blanks removed.
    A format refers to the pattern's named groups, e.g. "BAY-{bay:0>2}"."""

    def __init__(self, pattern: str | None = None, format: str | None = None) -> None:
        pattern = pattern or DEFAULT_PATTERN
        self.pattern = re.compile(pattern)
        self.format = DEFAULT_FORMAT if format is None and pattern == DEFAULT_PATTERN else format

    def check(self, text: str) -> Checked:
        code = " ".join(text.split()).upper()
        if not code:
            return Checked.bad("empty location code")
        match = self.pattern.fullmatch(code)
        if match is None:
            return Checked.bad(f"{code!r} is not a location code (expected e.g. A-03-12-2)")
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        value = self.format.format(**groups) if self.format else code
        return Checked.good(value, **groups)


_DEFAULT = LocationChecker()


def check_location(text: str) -> Checked:
    """Check one scanned location with the default pattern: "a 3 12 2" -> "A-03-12-2"."""
    return _DEFAULT.check(text)
