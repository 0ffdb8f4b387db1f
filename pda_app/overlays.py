"""What covers the screen: the right/wrong answer to a scan, the platform's notices, and the
confirm for a destructive action. Each is built once and only re-texted (the answer to a scan
must be on screen within a frame or two; see bench/bench_pda_feedback.py).

The answer and the notice cover the whole stage and a tap anywhere on them dismisses them; the
confirm takes a tap on one of its two buttons. No task logic here.
"""

from __future__ import annotations

from kivy.metrics import dp

from pda_app import theme
from pda_app.viewmodels import ConfirmVM, FeedbackVM, NoticeVM
from pda_app.widgets import Band, BigButton, TapBand, Text, repaint


class FeedbackPanel(TapBand):
    """Right: green, the headline and the message, over the middle of the screen (the buttons
    above and below stay usable while it closes itself). Wrong: red, over the whole screen, plus
    what was scanned, what was expected and how to go on."""

    def __init__(self, on_tap, **kw):
        super().__init__("feedback", orientation="vertical", fill=theme.GREEN, padding=dp(12), spacing=dp(6),
                         size_hint=(1, 0.56), pos_hint={"x": 0, "center_y": 0.5}, **kw)
        self.bind(on_release=lambda *_: on_tap())
        self.headline = Text(size=theme.FONT_HUGE, bold=True, halign="center", size_hint_y=0.3)
        self.message = Text(size=theme.FONT_L, bold=True, halign="center", lines=2)
        self.scanned = Text(size=theme.FONT_M, halign="center")
        self.expected = Text(size=theme.FONT_M, halign="center", bold=True)
        self.go_on = Text(size=theme.FONT_S, halign="center")
        for w in (self.headline, self.message, self.scanned, self.expected, self.go_on):
            self.add_widget(w)
        self._shown: FeedbackVM | None = None

    def show(self, fb: FeedbackVM) -> None:
        if fb == self._shown:
            return
        self._shown = fb
        repaint(self, theme.GREEN if fb.ok else theme.RED)
        self.size_hint_y = 0.56 if fb.ok else 1.0
        self.headline.set(fb.headline)
        self.message.set(fb.message)
        self.scanned.set(fb.scanned_text)
        self.expected.set(fb.expected_text)
        self.go_on.set(fb.continue_text)


class NoticePanel(TapBand):
    """Yellow: something the platform did to the list, or a refused action; tap to go on."""

    def __init__(self, on_tap, **kw):
        super().__init__("notice", orientation="vertical", fill=theme.YELLOW, padding=dp(12), spacing=dp(8),
                         size_hint=(1, 0.7), pos_hint={"x": 0, "center_y": 0.5}, **kw)
        self.bind(on_release=lambda *_: on_tap())
        self.body = Text(size=theme.FONT_L, bold=True, halign="center", color=theme.BLACK, lines=4)
        self.ok = Text(size=theme.FONT_L, bold=True, halign="center", color=theme.BLACK)
        self.add_widget(self.body)
        self.add_widget(self.ok)
        self._shown: NoticeVM | None = None

    def show(self, notice: NoticeVM) -> None:
        if notice != self._shown:
            self._shown = notice
            self.body.set(notice.text)
            self.ok.set(f"[ {notice.ok_text} ]")


class ConfirmPanel(Band):
    """The question, then "yes" (red) and "go back" (grey), as big as any button."""

    def __init__(self, on_yes, on_no, **kw):
        super().__init__(orientation="vertical", fill=theme.DARK, padding=dp(16), spacing=dp(16),
                         size_hint=(1, 1), pos_hint={"x": 0, "y": 0}, **kw)
        self.name = "confirm"
        self.question = Text(size=theme.FONT_L, bold=True, halign="center", color=theme.YELLOW, lines=2,
                             size_hint_y=0.5)
        self.yes = BigButton(name="confirm-yes", fill=theme.RED, ink=theme.WHITE, height=96,
                             on_release=lambda *_: on_yes())
        self.no = BigButton(name="confirm-no", fill=theme.GREY, ink=theme.WHITE, height=96,
                            on_release=lambda *_: on_no())
        for w in (self.question, self.yes, self.no):
            self.add_widget(w)
        self._shown: ConfirmVM | None = None

    def on_touch_down(self, touch):
        super().on_touch_down(touch)
        return self.collide_point(*touch.pos)  # modal: nothing underneath gets the touch

    def show(self, confirm: ConfirmVM) -> None:
        if confirm != self._shown:
            self._shown = confirm
            self.question.set(confirm.question)
            self.yes.set(confirm.yes_text)
            self.no.set(confirm.no_text)
