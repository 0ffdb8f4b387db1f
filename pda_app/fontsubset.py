"""`python -m pda_app.fontsubset`: make the CJK font the app ships (pda_app/assets/), so it draws
Chinese the same on a handheld as here, with no system font to find.

The source is WenQuanYi Micro Hei (Debian package fonts-wqy-microhei; Apache-2.0, or GPL-3+
with the font exception: we use it under Apache-2.0). The subset keeps:
- every character of the app's own words: any non-ASCII character in pda_app/*.py and the task
  board's messages (agent/tasks/messages.py), both languages;
- printable ASCII (Latin, digits, the symbols of locations, waybills and SSCC labels);
- the 3,755 level-1 characters of GB 2312 (the common hanzi: drivers' names, platform notes);
- CJK punctuation.
Made with fonttools (a build-time tool, in the [test] extra); the app itself never imports it.
Must never write anywhere but `--out`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).resolve().parent / "assets"
FONT_FILE = ASSETS / "PortEdgeCJK-subset.ttf"
SOURCE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
CJK_PUNCTUATION = "，。、；：？！“”‘’（）《》【】—…·￥％"


def ui_characters(root: Path = ROOT) -> set[str]:
    """Every non-ASCII character the app's source can put on a screen."""
    files = [*sorted((root / "pda_app").glob("*.py")), root / "agent/tasks/messages.py"]
    return {ch for f in files for ch in f.read_text(encoding="utf-8") if ord(ch) > 127 and ch.isprintable()}


def gb2312_level1() -> set[str]:
    """GB 2312 rows 16-55: the 3,755 most common hanzi, in pinyin order."""
    out = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                out.add(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # row 55 ends early
    return out


def characters() -> set[str]:
    ascii_printable = {chr(c) for c in range(0x20, 0x7F)}
    return ui_characters() | ascii_printable | gb2312_level1() | set(CJK_PUNCTUATION)


def build(source: Path, out: Path) -> tuple[int, int]:
    """Write the subset; returns (glyphs kept, bytes)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(source), fontNumber=0)  # the .ttc's first face: Micro Hei (not Mono)
    wanted = {ord(ch) for ch in characters()}
    missing = sorted(chr(c) for c in wanted if c not in font.getBestCmap() and c > 127)
    ui_missing = [ch for ch in missing if ch in ui_characters()]
    if ui_missing:
        raise SystemExit(f"the source font lacks characters the app shows: {''.join(ui_missing)}")
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # smaller; the handheld's rasteriser hints well enough at these sizes
    options.layout_features = []  # Kivy's SDL_ttf draws one glyph per character: no shaping
    options.drop_tables += ["FFTM"]  # FontForge's timestamps
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    return len(font.getGlyphOrder()), out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pda_app.fontsubset", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"the font to subset (default {SOURCE})")
    parser.add_argument("--out", type=Path, default=FONT_FILE, help="where to write it (default: the app's own)")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"error: {args.source} not found: apt-get install fonts-wqy-microhei", file=sys.stderr)
        return 2
    glyphs, size = build(args.source, args.out)
    print(f"{args.out}: {glyphs} glyphs, {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
