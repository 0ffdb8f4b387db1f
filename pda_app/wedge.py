"""Keyboard-wedge scanner input: an Android PDA's scanner types the barcode as keystrokes and
ends it with Enter. `WedgeBuffer` turns that key stream into whole scans. Pure, no Kivy.

Must never hand on a partial barcode: text without its Enter stays in the buffer, and a
buffer that grows past `max_length` (a stuck key, a cat on the keyboard) is dropped and counted.
"""

from __future__ import annotations

from collections import Counter

ENTER_KEYS = frozenset({13, 271})  # Return and keypad Enter, as Kivy's key codes


class WedgeBuffer:
    def __init__(self, max_length: int = 512):
        self.max_length = max_length
        self._chars: list[str] = []
        self.counters: Counter[str] = Counter()

    def text(self, chars: str) -> None:
        """Characters typed (Kivy's Window `on_textinput`)."""
        for ch in chars:
            if ch in "\r\n":
                continue  # Enter arrives as a key; some wedges also type it as text
            if ch.isprintable() or ch == "\x1d":  # GS1 FNC1 arrives as GS
                self._chars.append(ch)
        if len(self._chars) > self.max_length:
            self._chars.clear()
            self.counters["overlong"] += 1

    def enter(self) -> str | None:
        """Enter pressed: the finished scan, or None when nothing was typed."""
        data = "".join(self._chars).strip()
        self._chars.clear()
        if not data:
            self.counters["empty"] += 1
            return None
        self.counters["scans"] += 1
        return data

    @property
    def pending(self) -> str:
        return "".join(self._chars)
