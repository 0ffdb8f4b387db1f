"""The answer every identifier parser gives: a normalised value, or the reason it is invalid.

Parsers never raise on bad input: a scanned or OCR'd string is data from the field, and the
caller (a lane, a task board) decides what an invalid read means. Parsers must never guess a
correction (e.g. swap O for 0): a wrong container number that looks valid is worse than none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Checked:
    """`value` is the normalised identifier when valid; otherwise `reason` says why not.

    `parts` holds named pieces of a valid identifier (owner code, airline prefix, GS1 AIs...).
    """

    value: str | None
    reason: str | None = None
    parts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        return self.value is not None

    @classmethod
    def good(cls, value: str, **parts: str) -> Checked:
        return cls(value, None, MappingProxyType(dict(parts)))

    @classmethod
    def bad(cls, reason: str) -> Checked:
        return cls(None, reason)

    def __bool__(self) -> bool:
        return self.ok


def squeeze(text: str, drop: str = " -") -> str:
    """Upper case, with spaces, dashes (or the given characters) and surrounding blanks removed."""
    text = text.strip().upper()
    for ch in drop:
        text = text.replace(ch, "")
    return text
