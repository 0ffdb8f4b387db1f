"""Kivy building blocks with the PDA look: flat coloured boxes, big text, big buttons.

Text never wraps on its own: Kivy breaks Chinese anywhere ("已到取货/位"), so a label keeps
the lines it is given (split on "\\n" by the presenter) and shrinks its font until they fit its
box. A box therefore never grows past the space its layout gave it, whatever the language.
Widgets show what they are given; they hold no task logic and never call the board.
"""

from __future__ import annotations

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp, sp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label

from pda_app import theme
from pda_app.fonts import FONT_NAME

LINE = 1.4  # line height as a multiple of the font size


def paint(widget, rgba) -> None:
    """Give a widget a solid background that follows its size and position."""
    with widget.canvas.before:
        colour = Color(*rgba)
        rect = Rectangle(pos=widget.pos, size=widget.size)
    widget._bg_colour = colour

    def follow(*_):
        rect.pos, rect.size = widget.pos, widget.size

    widget.bind(pos=follow, size=follow)


def repaint(widget, rgba) -> None:
    widget._bg_colour.rgba = rgba


def line_height(size: float, lines: int = 1) -> float:
    return sp(size) * LINE * lines + dp(theme.PAD)


class Fits:
    """Shrink the font until the text fits the widget (no wrapping). Mixed into Label/Button."""

    margin = theme.PAD

    def _fit_init(self, size: float) -> None:
        self.max_font = sp(size)
        self._fitted = None
        self.bind(text=self._fit, size=self._fit)

    def set(self, text: str) -> None:
        """Change the text only when it changed (a label's texture is rebuilt on every set)."""
        if self.text != text:
            self.text = text

    def _fit(self, *_):
        key = (self.text, self.width, self.height)
        if key == self._fitted or self.width <= 1:
            return
        self._fitted = key
        room_w, room_h = self.width - dp(self.margin), self.height - dp(self.margin / 2)
        self.text_size = (None, None)
        self.font_size = self.max_font
        if self.text:
            self.texture_update()
            w, h = self.texture_size
            scale = min(1.0, room_w / max(w, 1), room_h / max(h, 1))
            if scale < 1.0:
                self.font_size = max(1.0, int(self.max_font * scale * 0.98))
        self.text_size = (max(room_w, 1), max(room_h, 1))  # for halign/valign; it fits, so no wrap


class Text(Fits, Label):
    """A label of a fixed number of lines, its font shrunk to fit."""

    def __init__(self, text="", size=theme.FONT_M, color=theme.WHITE, bold=False, halign="left", lines=1, **kw):
        kw.setdefault("size_hint_y", None)
        super().__init__(text=text, font_name=FONT_NAME, font_size=sp(size), color=color, bold=bold,
                         halign=halign, valign="middle", **kw)
        if kw["size_hint_y"] is None:
            self.height = line_height(size, lines)
        self._fit_init(size)


class BigButton(Fits, Button):
    """A flat button at least TOUCH_MIN high; `name` is what tests press it by."""

    def __init__(self, text="", name="", fill=theme.YELLOW, ink=theme.BLACK, size=theme.FONT_L,
                 height=theme.BUTTON_H, **kw):
        kw.setdefault("size_hint_y", None)
        kw.setdefault("halign", "center")
        super().__init__(text=text, font_name=FONT_NAME, font_size=sp(size), color=ink,
                         background_normal="", background_down="", background_color=fill,
                         height=dp(max(height, theme.TOUCH_MIN)), valign="middle", **kw)
        self.name = name
        self._fit_init(size)


class Band(BoxLayout):
    """A coloured strip holding widgets side by side or stacked."""

    def __init__(self, fill=theme.BLACK, **kw):
        kw.setdefault("padding", dp(theme.PAD))
        kw.setdefault("spacing", dp(theme.PAD))
        super().__init__(**kw)
        paint(self, fill)


class TapBand(ButtonBehavior, Band):
    """A band that is pressed as a whole (an overlay dismissed by a tap anywhere on it)."""

    def __init__(self, name: str, **kw):
        super().__init__(**kw)
        self.name = name

