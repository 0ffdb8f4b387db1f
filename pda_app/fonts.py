"""Find a font that draws Chinese and register it with Kivy as `FONT_NAME`.

Without one, Kivy's default Roboto draws every Chinese character as an empty box ("tofu"), so
the app refuses to start instead: `CjkFontMissing` names the Debian package to install.
`find_cjk_font()` does not import Kivy; `register()` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent.errors import PortEdgeError

FONT_NAME = "PortEdgeCJK"


class CjkFontMissing(PortEdgeError, FileNotFoundError):
    """No font that draws Chinese was found: the screens would show boxes instead of text."""


@dataclass(frozen=True)
class FontChoice:
    path: Path
    family: str
    licence: str
    package: str


#: known fonts, best first. Licences as stated in each Debian package's copyright file.
CANDIDATES: tuple[FontChoice, ...] = (
    FontChoice(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), "WenQuanYi Micro Hei",
               "Apache-2.0 or GPL-3+ with font exception", "fonts-wqy-microhei"),
    FontChoice(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), "Noto Sans CJK",
               "SIL Open Font License 1.1", "fonts-noto-cjk"),
    FontChoice(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), "WenQuanYi Zen Hei",
               "GPL-2 with font exception", "fonts-wqy-zenhei"),
    FontChoice(Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), "Droid Sans Fallback",
               "Apache-2.0", "fonts-droid-fallback"),
)

INSTALL_HINT = "install one: apt-get install fonts-wqy-microhei (or set PORTEDGE_CJK_FONT=/path/to/font.ttc)"


def find_cjk_font() -> FontChoice:
    """The font to use: $PORTEDGE_CJK_FONT, else the first known font present, else what
    fontconfig offers for Chinese. Raises `CjkFontMissing` when there is none."""
    override = os.environ.get("PORTEDGE_CJK_FONT")
    if override:
        path = Path(override)
        if not path.is_file():
            raise CjkFontMissing(f"PORTEDGE_CJK_FONT={override} is not a file; {INSTALL_HINT}")
        return FontChoice(path, path.stem, "see the font's own licence", "(given by PORTEDGE_CJK_FONT)")
    for choice in CANDIDATES:
        if choice.path.is_file():
            return choice
    found = _fontconfig_chinese()
    if found is not None:
        return FontChoice(found, found.stem, "see the font's own licence", "(found by fontconfig)")
    raise CjkFontMissing(f"no font that draws Chinese was found; {INSTALL_HINT}")


def _fontconfig_chinese() -> Path | None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run([fc_list, ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in sorted(out.splitlines()):
        path = Path(line.split(":", 1)[0].strip())
        if path.suffix.lower() in (".ttf", ".ttc", ".otf") and path.is_file():
            return path
    return None


def register(choice: FontChoice | None = None) -> FontChoice:
    """Register the CJK font as `FONT_NAME` and make it Kivy's default font."""
    from kivy.core.text import LabelBase

    choice = choice or find_cjk_font()
    LabelBase.register(name=FONT_NAME, fn_regular=str(choice.path))
    # every widget that names no font gets this one too, so nothing falls back to Roboto
    LabelBase.register(name="Roboto", fn_regular=str(choice.path))
    return choice
