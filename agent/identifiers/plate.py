"""Chinese vehicle licence plates (GA 36-2018), as a gate's plate camera reads them.

Ordinary: province character + issuing-authority letter + 5 of [A-HJ-NP-Z0-9] (no I or O),
where the last may instead be 挂 (trailer: common on container chassis), 学, 警, 港 or 澳.
New energy: 8 characters; small vehicles `[DF][A-HJ-NP-Z0-9]\\d{4}` after the prefix, large
`\\d{5}[DF]`. The pattern is a constructor argument because sites meet plates the standard
leaves out (military, embassy, Hong Kong/Macau cross-border) and want to admit or refuse them.
Never map look-alike characters (0/O, 1/I): OCR confidence is the camera's job.
"""

from __future__ import annotations

import re

from agent.identifiers.result import Checked

#: the one-character abbreviations of the 31 provincial-level divisions of the mainland
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_ALNUM = "[A-HJ-NP-Z0-9]"
_TAILS = "挂学警港澳"

#: default pattern: ordinary plates and both new-energy forms
DEFAULT_PATTERN = (
    f"^[{PROVINCES}][A-HJ-NP-Z]"
    f"(?:{_ALNUM}{{4}}[A-HJ-NP-Z0-9{_TAILS}]"  # ordinary (7 characters)
    f"|[DF]{_ALNUM}\\d{{4}}"  # new energy, small vehicle
    f"|\\d{{5}}[DF])$"  # new energy, large vehicle
)


class PlateChecker:
    """Check plates against a pattern (None = GA 36-2018). Thread-safe, reusable."""

    def __init__(self, pattern: str | None = None) -> None:
        self.pattern = re.compile(pattern or DEFAULT_PATTERN)

    def check(self, text: str) -> Checked:
        plate = "".join(text.split()).replace("·", "").replace("-", "").upper()
        if not plate:
            return Checked.bad("empty plate")
        if not self.pattern.fullmatch(plate):
            return Checked.bad(self._why(plate))
        kind = "new_energy" if len(plate) == 8 else ("trailer" if plate.endswith("挂") else "ordinary")
        return Checked.good(plate, province=plate[0], authority=plate[1], kind=kind)

    @staticmethod
    def _why(plate: str) -> str:
        if plate[0] not in PROVINCES:
            return f"{plate[0]!r} is not a province abbreviation"
        if len(plate) not in (7, 8):
            return f"plate must be 7 or 8 characters, got {len(plate)}"
        if "I" in plate[1:] or "O" in plate[1:]:
            return "plates never use the letters I or O"
        return f"{plate!r} does not match the plate pattern"


_DEFAULT = PlateChecker()


def check_plate(text: str) -> Checked:
    """Check one plate against the GA 36-2018 default pattern: "沪A·1234 挂" -> "沪A1234挂"."""
    return _DEFAULT.check(text)
