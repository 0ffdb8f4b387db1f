"""The font that draws Chinese, shipped with the app, registered with Kivy as `FONT_NAME`.

The app carries its own CJK font (pda_app/assets/PortEdgeCJK-subset.ttf: a subset of WenQuanYi
Micro Hei made by `python -m pda_app.fontsubset`, Apache-2.0, licence beside it), so it draws
the same on an Android handheld, which has none of Debian's font paths, as here. Nothing is
looked up in the system. Without a CJK font Kivy's default Roboto draws every Chinese character
as an empty box ("tofu"): a missing asset stops the app with `CjkFontMissing` instead.
`find_cjk_font()` does not import Kivy; `register()` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agent.errors import PortEdgeError

FONT_NAME = "PortEdgeCJK"
ASSETS = Path(__file__).resolve().parent / "assets"
SHIPPED = ASSETS / "PortEdgeCJK-subset.ttf"
LICENCE = ASSETS / "LICENSE-WenQuanYi-Micro-Hei.txt"


class CjkFontMissing(PortEdgeError, FileNotFoundError):
    """No font that draws Chinese was found: the screens would show boxes instead of text."""


@dataclass(frozen=True)
class FontChoice:
    path: Path
    family: str
    licence: str
    package: str


def find_cjk_font() -> FontChoice:
    """$PORTEDGE_CJK_FONT (a full font, e.g. for names beyond the subset's common hanzi), else
    the font shipped in the package. Raises `CjkFontMissing` when neither is there."""
    override = os.environ.get("PORTEDGE_CJK_FONT")
    if override:
        path = Path(override)
        if not path.is_file():
            raise CjkFontMissing(f"PORTEDGE_CJK_FONT={override} is not a file")
        return FontChoice(path, path.stem, "see the font's own licence", "(given by PORTEDGE_CJK_FONT)")
    if not SHIPPED.is_file():
        raise CjkFontMissing(f"the app's font {SHIPPED} is missing: reinstall the package "
                             "(or rebuild it: python -m pda_app.fontsubset)")
    return FontChoice(SHIPPED, "WenQuanYi Micro Hei (subset)", f"Apache-2.0 ({LICENCE.name})", "portedge (pda_app/assets)")


def register(choice: FontChoice | None = None) -> FontChoice:
    """Register the CJK font as `FONT_NAME` and make it Kivy's default font."""
    from kivy.core.text import LabelBase

    choice = choice or find_cjk_font()
    LabelBase.register(name=FONT_NAME, fn_regular=str(choice.path))
    # every widget that names no font gets this one too, so nothing falls back to Roboto
    LabelBase.register(name="Roboto", fn_regular=str(choice.path))
    return choice
