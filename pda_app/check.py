"""Checks that the PDA draws Chinese as Chinese: no tofu, no blank screens.

Tofu (a font without the glyph) draws every missing character as the same .notdef box, so a
renderer that draws real glyphs must (a) draw different characters differently and (b) draw
none of them like a character no font has. Must never change the files it checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: characters the screens use most; tofu would make them all the same box
SAMPLE = "正确错误任务货物"
#: a code point in Supplementary Private Use Area-A: no font draws it, so it shows .notdef
NOTDEF = "\U000F0000"


def glyph_problems(render: Callable[[str], bytes]) -> list[str]:
    """`render(text)` returns the pixels of `text` drawn with the app's font."""
    problems = []
    box = render(NOTDEF)
    seen: dict[bytes, str] = {}
    for ch in SAMPLE:
        pixels = render(ch)
        if not any(pixels):
            problems.append(f"{ch!r} draws nothing")
        if pixels == box:
            problems.append(f"{ch!r} draws as the .notdef box (tofu)")
        if pixels in seen:
            problems.append(f"{ch!r} draws exactly like {seen[pixels]!r} (tofu)")
        seen[pixels] = ch
    return problems


def pil_renderer(font_path: str, size: int = 48) -> Callable[[str], bytes]:
    """Draw with the font file itself (FreeType through Pillow), no display needed."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, size)

    def render(text: str) -> bytes:
        image = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(image).text((4, 4), text, font=font, fill=255)
        return image.tobytes()

    return render


def kivy_renderer(font_name: str, size: int = 48) -> Callable[[str], bytes]:
    """Draw as the app does, with Kivy's text provider (needs Kivy's window to be up)."""
    from kivy.core.text import Label as CoreLabel

    def render(text: str) -> bytes:
        label = CoreLabel(text=text, font_name=font_name, font_size=size)
        label.refresh()
        return bytes(label.texture.pixels)

    return render


def check_screenshots(folder: Path, stems: list[str], langs=("zh", "en")) -> list[str]:
    """Every screen exists in every language, is not blank, and each language differs."""
    from PIL import Image

    problems = []
    for stem in stems:
        pixels = {}
        for lang in langs:
            path = folder / f"{stem}-{lang}.png"
            if not path.is_file():
                problems.append(f"{path} is missing")
                continue
            image = Image.open(path).convert("RGB")
            pixels[lang] = image.tobytes()
            colours = image.getcolors(maxcolors=1 << 16)
            if colours is not None and len(colours) < 8:
                problems.append(f"{path} is (nearly) blank: {len(colours)} colours")
            if min(image.size) < 300:
                problems.append(f"{path} is too small: {image.size}")
        if len(pixels) == len(langs) and len(set(pixels.values())) < len(langs):
            problems.append(f"{stem}: the languages look the same")
    return problems
