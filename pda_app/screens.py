"""The PDA's screens and overlays. Each `show(vm)` draws one view model; each button calls one
presenter intent through `intents` (the app). No task logic, no board, no serial, no SQLite.

Every pressable widget has a `name` so UI tests can press it by name, not by position.
"""

from __future__ import annotations

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from pda_app import theme
from pda_app.fonts import FONT_NAME
from pda_app.presenter import ViewModel
from pda_app.widgets import Band, BigButton, Text, paint, repaint


class StatusBar(Band):
    """Online/offline, updates waiting to upload, the driver, and the language button."""

    def __init__(self, intents, **kw):
        super().__init__(orientation="horizontal", size_hint_y=None, height=dp(theme.STATUS_H + 16),
                         fill=theme.BLACK, padding=dp(4), spacing=dp(4), **kw)
        self.online = Text(size=theme.FONT_S, bold=True, halign="center", size_hint_x=0.26)
        paint(self.online, theme.RED)
        self.waiting = Text(size=theme.FONT_S, halign="center", size_hint_x=0.26, color=theme.YELLOW)
        self.driver = Text(size=theme.FONT_S, halign="center", size_hint_x=0.24)
        self.lang = BigButton(name="lang", size=theme.FONT_S, size_hint_x=0.24, height=theme.TOUCH_MIN,
                              on_release=lambda *_: intents.switch_language())
        for w in (self.online, self.waiting, self.driver, self.lang):
            w.size_hint_y = 1
            self.add_widget(w)

    def show(self, vm: ViewModel) -> None:
        s = vm.status
        self.online.text = ("● " if s.online else "○ ") + s.online_text
        repaint(self.online, theme.GREEN if s.online else theme.RED)
        self.waiting.text = s.waiting_text
        self.driver.text = s.driver_text
        self.lang.text = s.lang_button


class LoginScreen(Screen):
    def __init__(self, intents, **kw):
        super().__init__(name="login", **kw)
        box = Band(orientation="vertical", fill=theme.BLACK)
        self.title = Text(size=theme.FONT_XL, color=theme.YELLOW, bold=True, halign="center", lines=1)
        fields = BoxLayout(size_hint_y=None, height=dp(96), spacing=dp(theme.PAD))
        self.badge = BigButton(name="badge", size=theme.FONT_M, height=96, on_release=lambda *_: intents.focus("badge"))
        self.pin = BigButton(name="pin", size=theme.FONT_M, height=96, on_release=lambda *_: intents.focus("pin"))
        fields.add_widget(self.badge)
        fields.add_widget(self.pin)
        self.hint = Text(size=theme.FONT_M, halign="center")
        self.message = Text(size=theme.FONT_M, halign="center", bold=True)
        pad = GridLayout(cols=3, spacing=dp(6), size_hint_y=None, height=dp(4 * 78 + 3 * 6))
        for label in "123456789":
            pad.add_widget(self._key(intents, label))
        self.clear = BigButton(name="key-clear", fill=theme.GREY, ink=theme.WHITE, size=theme.FONT_M, height=78,
                               on_release=lambda *_: intents.clear_login())
        pad.add_widget(self.clear)
        pad.add_widget(self._key(intents, "0"))
        pad.add_widget(BigButton(text="←", name="key-back", fill=theme.GREY, ink=theme.WHITE, height=78,
                                 on_release=lambda *_: intents.backspace()))
        self.ok = BigButton(name="login", size=theme.FONT_XL, height=96, on_release=lambda *_: intents.login())
        for w in (self.title, fields, self.hint, pad, self.message, Widget(), self.ok):
            box.add_widget(w)
        self.add_widget(box)

    @staticmethod
    def _key(intents, digit: str) -> BigButton:
        return BigButton(text=digit, name=f"key-{digit}", fill=theme.WHITE, height=78, size=theme.FONT_XL,
                         on_release=lambda *_: intents.key(digit))

    def show(self, vm: ViewModel) -> None:
        lv = vm.login
        self.title.text = lv.title
        self.badge.text = f"{lv.badge_label}\n{lv.badge or '—'}"
        self.pin.text = f"{lv.pin_label}\n{lv.pin_mask or '—'}"
        for button, field in ((self.badge, "badge"), (self.pin, "pin")):
            focused = lv.focus == field
            button.background_color = theme.YELLOW if focused else theme.DARK
            button.color = theme.BLACK if focused else theme.WHITE
        self.hint.text = lv.hint
        self.message.text = lv.message
        self.message.color = theme.RED if lv.message_is_error else theme.YELLOW
        self.clear.text = lv.clear_text
        self.ok.text = lv.ok_text
        self.ok.disabled = lv.busy


class TaskListScreen(Screen):
    def __init__(self, intents, **kw):
        super().__init__(name="tasks", **kw)
        self.intents = intents
        box = Band(orientation="vertical", fill=theme.BLACK)
        head = BoxLayout(size_hint_y=None, height=dp(theme.TOUCH_MIN), spacing=dp(theme.PAD))
        self.title = Text(size=theme.FONT_L, color=theme.YELLOW, bold=True)
        self.title.size_hint_y = 1
        self.logout = BigButton(name="logout", fill=theme.GREY, ink=theme.WHITE, size=theme.FONT_S,
                                height=theme.TOUCH_MIN, size_hint_x=0.32, on_release=lambda *_: intents.logout())
        head.add_widget(self.title)
        head.add_widget(self.logout)
        self.rows = GridLayout(cols=1, spacing=dp(theme.PAD), size_hint_y=None)
        self.rows.bind(minimum_height=self.rows.setter("height"))
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(self.rows)
        box.add_widget(head)
        box.add_widget(scroll)
        self.add_widget(box)

    def show(self, vm: ViewModel) -> None:
        tl = vm.tasks
        self.title.text = tl.title
        self.logout.text = tl.logout_text
        self.rows.clear_widgets()
        if not tl.rows:
            self.rows.add_widget(Text(tl.empty_text, size=theme.FONT_L, halign="center"))
        for row in tl.rows:
            flag = f"   [color=#ffffff][b]▶ {row.overdue_text}[/b][/color]" if row.overdue else ""
            text = (f"[b]{row.title}[/b]{flag}\n[size={int(sp(theme.FONT_L))}][b]{row.route}[/b][/size]\n"
                    f"{row.due_text} · {row.pieces_text} · {row.state_text}")
            fill = theme.RED if row.overdue else (theme.YELLOW if row.active else theme.DARK)
            ink = theme.BLACK if (row.active and not row.overdue) else theme.WHITE
            button = BigButton(text=text, name=f"task-{row.task_id}", fill=fill, ink=ink, size=theme.FONT_S,
                               height=132, markup=True, halign="left",
                               on_release=lambda _b, tid=row.task_id: self.intents.open_task(tid))
            self.rows.add_widget(button)


class TaskDetailScreen(Screen):
    def __init__(self, intents, **kw):
        super().__init__(name="detail", **kw)
        self.intents = intents
        box = Band(orientation="vertical", fill=theme.BLACK, spacing=dp(4))
        head = BoxLayout(size_hint_y=None, height=dp(theme.TOUCH_MIN), spacing=dp(theme.PAD))
        self.back = BigButton(name="back", fill=theme.GREY, ink=theme.WHITE, size=theme.FONT_S,
                              height=theme.TOUCH_MIN, size_hint_x=0.25, on_release=lambda *_: intents.back())
        self.title = Text(size=theme.FONT_S, bold=True)
        self.title.size_hint_y = 1
        self.state = Text(size=theme.FONT_S, color=theme.YELLOW, halign="right", size_hint_x=0.35)
        self.state.size_hint_y = 1
        for w in (self.back, self.title, self.state):
            head.add_widget(w)
        self.from_label = Text(size=theme.FONT_S, color=theme.YELLOW)
        self.source = Text(size=theme.FONT_HUGE, bold=True, halign="center", color=theme.YELLOW, lines=1)
        self.pieces_title = Text(size=theme.FONT_M, bold=True)
        self.pieces = GridLayout(cols=2, size_hint_y=None, spacing=dp(2))
        self.pieces.bind(minimum_height=self.pieces.setter("height"))
        self.to_label = Text(size=theme.FONT_S, color=theme.YELLOW)
        self.destination = Text(size=theme.FONT_XL, bold=True, halign="center")
        self.due = Text(size=theme.FONT_M, bold=True)
        self.info = Text(size=theme.FONT_S)
        self.next = Text(size=theme.FONT_L, bold=True, halign="center", color=theme.BLACK)
        paint(self.next, theme.YELLOW)
        self.actions = BoxLayout(size_hint_y=None, height=dp(theme.BUTTON_H), spacing=dp(theme.PAD))
        for w in (head, self.from_label, self.source, self.pieces_title, self.pieces, self.to_label,
                  self.destination, self.due, self.info, Widget(), self.next, self.actions):
            box.add_widget(w)
        self.add_widget(box)

    def show(self, vm: ViewModel) -> None:
        d = vm.detail
        if d is None:
            return
        self.back.text = d.back_text
        self.title.text = d.title
        self.state.text = d.state_text
        self.from_label.text = d.from_label
        self.source.text = d.source
        self.pieces_title.text = d.pieces_title
        self.pieces.clear_widgets()
        for piece in d.pieces:
            mark = "✓" if piece.done else "○"
            self.pieces.add_widget(Text(f"{mark} {piece.text}", size=theme.FONT_S, bold=piece.done,
                                        color=(0.3, 1, 0.4, 1) if piece.done else theme.WHITE))
        self.to_label.text = d.to_label
        self.destination.text = d.destination
        self.due.text = d.due_text
        self.due.color = (1, 0.3, 0.3, 1) if d.overdue else theme.WHITE
        self.info.text = "   ".join(d.info)
        self.next.text = d.next_text
        self.actions.clear_widgets()
        if d.can_accept:
            self.actions.add_widget(BigButton(d.accept_text, name="accept", on_release=lambda *_: self.intents.accept()))
        if d.can_complete:
            self.actions.add_widget(BigButton(d.complete_text, name="complete", fill=theme.GREEN, ink=theme.WHITE,
                                              on_release=lambda *_: self.intents.complete()))
        if d.can_report:
            self.actions.add_widget(BigButton(d.report_text, name="report", fill=theme.GREY, ink=theme.WHITE,
                                              size=theme.FONT_M, on_release=lambda *_: self.intents.open_exception()))


class ExceptionScreen(Screen):
    """The exception dialog: one big button per reason; "other" takes the typed note."""

    def __init__(self, intents, **kw):
        super().__init__(name="exception", **kw)
        self.intents = intents
        self.box = Band(orientation="vertical", fill=theme.BLACK)
        self.title = Text(size=theme.FONT_XL, color=theme.YELLOW, bold=True, halign="center", lines=1)
        self.reasons = BoxLayout(orientation="vertical", spacing=dp(theme.PAD), size_hint_y=None)
        self.reasons.bind(minimum_height=self.reasons.setter("height"))
        self.note = TextInput(font_name=FONT_NAME, font_size=sp(theme.FONT_M), size_hint_y=None,
                              height=dp(theme.TOUCH_MIN), multiline=False)
        self.cancel = BigButton(name="exception-cancel", fill=theme.GREY, ink=theme.WHITE,
                                on_release=lambda *_: intents.back())
        for w in (self.title, self.reasons, self.note, Widget(), self.cancel):
            self.box.add_widget(w)
        self.add_widget(self.box)

    def show(self, vm: ViewModel) -> None:
        ev = vm.exception
        self.title.text = ev.title
        self.cancel.text = ev.cancel_text
        self.note.hint_text = dict(ev.reasons)["other"] + " …"
        self.reasons.clear_widgets()
        for code, label in ev.reasons:
            self.reasons.add_widget(BigButton(
                label, name=f"reason-{code}", height=88, fill=theme.WHITE,
                on_release=lambda _b, c=code: self.intents.report_exception(c, self.note.text)))


class Overlay(Button):
    """Full-width answer or notice over the screen; a tap dismisses it."""

    def __init__(self, name: str, **kw):
        super().__init__(font_name=FONT_NAME, font_size=sp(theme.FONT_L), markup=True, halign="center",
                         valign="middle", background_normal="", background_down="",
                         size_hint=(1, 0.56), pos_hint={"x": 0, "center_y": 0.5}, **kw)
        self.name = name
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - dp(24), None)))
