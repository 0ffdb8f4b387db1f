"""Kivy building blocks with the PDA look: flat coloured boxes, big text, big buttons.

Widgets show what they are given; they hold no task logic and never call the board.
"""

from __future__ import annotations

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label

from pda_app import theme
from pda_app.fonts import FONT_NAME


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


class Text(Label):
    """A label that wraps to its width and grows to its text's height."""

    def __init__(self, text="", size=theme.FONT_M, color=theme.WHITE, bold=False, halign="left", lines=None, **kw):
        super().__init__(text=text, font_name=FONT_NAME, font_size=sp(size), color=color, bold=bold,
                         halign=halign, valign="middle", size_hint_y=None, **kw)
        if lines:
            # a title: fixed height and no wrapping. Kivy cannot break Chinese text (no spaces)
            # and drew nothing when the first layout gave it a narrow width.
            self.height = sp(size) * 1.4 * lines + dp(theme.PAD)
        else:
            self.bind(width=self._wrap, texture_size=self._grow)
            self._wrap()
            self._grow()  # an empty label never updates its texture size: start small

    def _wrap(self, *_):
        self.text_size = (self.width - dp(2 * theme.PAD), None)

    def _grow(self, *_):
        self.height = max(self.texture_size[1] + dp(theme.PAD), dp(8)) if self.text else dp(8)


class BigButton(Button):
    """A flat button at least TOUCH_MIN high; `name` is what tests press it by."""

    def __init__(self, text="", name="", fill=theme.YELLOW, ink=theme.BLACK, size=theme.FONT_L,
                 height=theme.BUTTON_H, **kw):
        kw.setdefault("size_hint_y", None)
        kw.setdefault("halign", "center")
        super().__init__(text=text, font_name=FONT_NAME, font_size=sp(size), color=ink,
                         background_normal="", background_down="", background_color=fill,
                         height=dp(max(height, theme.TOUCH_MIN)), valign="middle", **kw)
        self.name = name
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - dp(theme.PAD), None)))


class Band(BoxLayout):
    """A coloured strip holding widgets side by side or stacked."""

    def __init__(self, fill=theme.BLACK, **kw):
        kw.setdefault("padding", dp(theme.PAD))
        kw.setdefault("spacing", dp(theme.PAD))
        super().__init__(**kw)
        paint(self, fill)
