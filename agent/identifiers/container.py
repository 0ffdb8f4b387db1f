"""ISO 6346 container numbers: owner (3 letters) + category (U, J, Z) + 6 digits + check digit.

The check digit comes from python-stdnum's `iso6346`; the strict shape check is ours because
stdnum's pattern accepts any 4 letters. Never "fix" an OCR read here (O->0, I->1): a guessed
number that happens to pass the check is a wrong container through the gate.
"""

from __future__ import annotations

import re

from stdnum import iso6346

from agent.identifiers.result import Checked, squeeze

CATEGORIES = "UJZ"  # U freight container, J detachable equipment, Z trailer/chassis
_SHAPE = re.compile(r"^[A-Z]{3}[UJZ]\d{7}$")


def check_digit(first10: str) -> str:
    """The check digit for an owner+category+serial string of 10 characters."""
    return iso6346.calc_check_digit(first10)


def check_container(text: str) -> Checked:
    """`Checked("CSQU3054383")` for " csqu-305438 3"; a reason for anything that is not one."""
    number = squeeze(text)
    if len(number) != 11:
        return Checked.bad(f"container number must be 11 characters, got {len(number)}")
    if not number[:3].isascii() or not number[:3].isalpha():
        return Checked.bad(f"owner code {number[:3]!r} must be 3 letters A-Z")
    if number[3] not in CATEGORIES:
        return Checked.bad(f"category {number[3]!r} must be U, J or Z")
    if not number[4:].isascii() or not number[4:].isdigit():
        return Checked.bad(f"serial and check digit {number[4:]!r} must be 7 digits")
    if not _SHAPE.match(number):  # belt and braces: the checks above should cover it
        return Checked.bad("not an ISO 6346 container number")
    expected = check_digit(number[:10])
    if number[10] != expected:
        return Checked.bad(f"check digit is {number[10]}, expected {expected}")
    return Checked.good(number, owner=number[:3], category=number[3], serial=number[4:10], check=number[10])
