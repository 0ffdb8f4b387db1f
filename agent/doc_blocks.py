"""The generated blocks of a Markdown doc (the lane diagrams, the register maps): each stands
between a begin and an end marker and is rewritten in place from the code, never by hand.
"""

from __future__ import annotations

from collections.abc import Iterable


def rewrite_blocks(path: str, blocks: Iterable[tuple[str, str, str]]) -> None:
    """For each (begin, end, block): replace the text of `path` from `begin` to `end` (both
    markers included) with `block`, which carries the markers itself."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for begin, end, block in blocks:
        start, stop = text.index(begin), text.index(end) + len(end)
        text = text[:start] + block + text[stop:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
