"""The PDA's status bar and screens. Each `show(vm)` draws one view model; each button calls one
presenter intent through `intents` (the app). No task logic, no board, no serial, no SQLite.

Widgets are built once. `show` compares the part of the view model it draws with the part it
drew last and returns at once when they are equal; otherwise it sets only the texts and colours
that changed (a rebuilt screen costs a frame and feeds the garbage collector, and a driver waits
for that frame after every scan). Every pressable widget has a `name` so UI tests press it by name.
"""

from __future__ import annotations

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from pda_app import theme
from pda_app.fonts import FONT_NAME
from pda_app.presenter import MAX_PIECE_ROWS, ViewModel
from pda_app.widgets import Band, BigButton, Text, line_height, paint, repaint

REACH_FILL = {"online": theme.GREEN, "platform_silent": theme.YELLOW, "offline": theme.RED}
REACH_INK = {"online": theme.WHITE, "platform_silent": theme.BLACK, "offline": theme.WHITE}
REACH_MARK = {"online": "● ", "platform_silent": "◐ ", "offline": "○ "}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-"


class StatusBar(Band):
    """Link state (broker and platform), records waiting, last platform contact, the driver,
    and the language button."""

    def __init__(self, intents, **kw):
        super().__init__(orientation="horizontal", size_hint_y=None, height=dp(theme.STATUS_H + 24),
                         fill=theme.BLACK, padding=dp(4), spacing=dp(4), **kw)
        cells = GridLayout(cols=2, spacing=dp(4), size_hint_x=0.76)
        self.reach = Text(size=theme.FONT_S, bold=True, halign="center", size_hint_y=1)
        paint(self.reach, theme.RED)
        self.driver = Text(size=theme.FONT_S, halign="center", size_hint_y=1)
        self.waiting = Text(size=theme.FONT_S, halign="center", color=theme.YELLOW, size_hint_y=1)
        self.contact = Text(size=theme.FONT_S, halign="center", size_hint_y=1)
        for w in (self.reach, self.driver, self.waiting, self.contact):
            cells.add_widget(w)
        self.lang = BigButton(name="lang", size=theme.FONT_S, size_hint_x=0.24, size_hint_y=1,
                              on_release=lambda *_: intents.switch_language())
        self.add_widget(cells)
        self.add_widget(self.lang)
        self._shown = None

    def show(self, vm: ViewModel) -> None:
        s = vm.status
        if s == self._shown:
            return
        self._shown = s
        self.reach.set(REACH_MARK[s.reach] + s.reach_text)
        self.reach.color = REACH_INK[s.reach]
        repaint(self.reach, REACH_FILL[s.reach])
        self.waiting.set(s.waiting_text)
        self.contact.set(s.contact_text)
        self.driver.set(s.driver_text)
        self.lang.set(s.lang_button)


class LoginScreen(Screen):
    """Badge (scanned, or keyed on the pad: ABC for letters) and PIN (digits only)."""

    def __init__(self, intents, **kw):
        super().__init__(name="login", **kw)
        box = Band(orientation="vertical", fill=theme.BLACK)
        self.title = Text(size=theme.FONT_L, color=theme.YELLOW, bold=True, halign="center")
        fields = BoxLayout(size_hint_y=None, height=dp(88), spacing=dp(theme.PAD))
        self.badge = BigButton(name="badge", size=theme.FONT_M, height=88, on_release=lambda *_: intents.focus("badge"))
        self.pin = BigButton(name="pin", size=theme.FONT_M, height=88, on_release=lambda *_: intents.focus("pin"))
        fields.add_widget(self.badge)
        fields.add_widget(self.pin)
        self.info = Text(size=theme.FONT_S, halign="center", bold=True, lines=2)
        self.pads = BoxLayout(size_hint_y=None, height=dp(4 * 78 + 3 * 6))
        self.digits = GridLayout(cols=3, spacing=dp(6))
        for label in "123456789":
            self.digits.add_widget(self._key(intents, label))
        self.toggles = [self._toggle(intents, "pad-letters"), self._toggle(intents, "pad-digits")]
        self.digits.add_widget(self.toggles[0])
        self.digits.add_widget(self._key(intents, "0"))
        self.digits.add_widget(self._back(intents, "key-back"))
        self.letters = GridLayout(cols=8, spacing=dp(4))  # 4 rows, as tall as the digit pad's
        for label in LETTERS:
            self.letters.add_widget(self._key(intents, label, size=theme.FONT_M))
        for _ in range(32 - len(LETTERS) - 2):
            self.letters.add_widget(Widget())
        self.letters.add_widget(self.toggles[1])
        self.letters.add_widget(self._back(intents, "key-back-letters"))
        self.pads.add_widget(self.digits)
        self._pad = "digits"
        actions = BoxLayout(size_hint_y=None, height=dp(theme.BUTTON_H), spacing=dp(theme.PAD))
        self.clear = BigButton(name="key-clear", fill=theme.GREY, ink=theme.WHITE, size=theme.FONT_M,
                               size_hint_x=0.32, on_release=lambda *_: intents.clear_login())
        self.ok = BigButton(name="login", size=theme.FONT_XL, on_release=lambda *_: intents.login())
        actions.add_widget(self.clear)
        actions.add_widget(self.ok)
        for w in (self.title, fields, self.info, self.pads, Widget(), actions):
            box.add_widget(w)
        self.add_widget(box)
        self._shown = None

    @staticmethod
    def _key(intents, char: str, size=theme.FONT_XL) -> BigButton:
        return BigButton(text=char, name=f"key-{char}", fill=theme.WHITE, size=size, size_hint_y=1,
                         on_release=lambda *_: intents.key(char))

    @staticmethod
    def _toggle(intents, name: str) -> BigButton:
        return BigButton(name=name, fill=theme.YELLOW, size=theme.FONT_M, size_hint_y=1,
                         on_release=lambda *_: intents.toggle_pad())

    @staticmethod
    def _back(intents, name: str) -> BigButton:
        return BigButton(text="←", name=name, fill=theme.GREY, ink=theme.WHITE, size_hint_y=1,
                         on_release=lambda *_: intents.backspace())

    def show(self, vm: ViewModel) -> None:
        lv = vm.login
        if lv == self._shown:
            return
        self._shown = lv
        self.title.set(lv.title)
        self.badge.set(f"{lv.badge_label}\n{lv.badge or '—'}")
        self.pin.set(f"{lv.pin_label}\n{lv.pin_mask or '—'}")
        for button, field in ((self.badge, "badge"), (self.pin, "pin")):
            focused = lv.focus == field
            button.background_color = theme.YELLOW if focused else theme.DARK
            button.color = theme.BLACK if focused else theme.WHITE
        self.info.set(lv.message or lv.hint)
        self.info.color = (theme.RED if lv.message_is_error else theme.YELLOW) if lv.message else theme.WHITE
        if lv.pad != self._pad:
            self._pad = lv.pad
            self.pads.clear_widgets()
            self.pads.add_widget(self.letters if lv.pad == "letters" else self.digits)
        for toggle in self.toggles:
            toggle.set(lv.pad_toggle_text)
            toggle.disabled = lv.focus != "badge"
        self.clear.set(lv.clear_text)
        self.ok.set(lv.ok_text)
        self.ok.disabled = lv.busy


class TaskListScreen(Screen):
    ROW_H = 132

    def __init__(self, intents, **kw):
        super().__init__(name="tasks", **kw)
        self.intents = intents
        box = Band(orientation="vertical", fill=theme.BLACK)
        head = BoxLayout(size_hint_y=None, height=dp(theme.TOUCH_MIN), spacing=dp(theme.PAD))
        self.title = Text(size=theme.FONT_L, color=theme.YELLOW, bold=True, size_hint_y=1)
        self.logout = BigButton(name="logout", fill=theme.GREY, ink=theme.WHITE, size=theme.FONT_S,
                                height=theme.TOUCH_MIN, size_hint_x=0.32, on_release=lambda *_: intents.ask_logout())
        head.add_widget(self.title)
        head.add_widget(self.logout)
        self.rows = GridLayout(cols=1, spacing=dp(theme.PAD), size_hint_y=None)
        self.rows.bind(minimum_height=self.rows.setter("height"))
        self.empty = Text(size=theme.FONT_L, halign="center")
        self._buttons: dict[str, BigButton] = {}
        self._row_vms: dict[str, object] = {}
        self._order: tuple[str, ...] | None = None
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(self.rows)
        box.add_widget(head)
        box.add_widget(scroll)
        self.add_widget(box)
        self._shown = None

    def show(self, vm: ViewModel) -> None:
        tl = vm.tasks
        if tl == self._shown:
            return
        self._shown = tl
        self.title.set(tl.title)
        self.logout.set(tl.logout_text)
        self.empty.set(tl.empty_text)
        for row in tl.rows:
            if self._row_vms.get(row.task_id) != row:
                self._row_vms[row.task_id] = row
                self._draw_row(row)
        order = tuple(r.task_id for r in tl.rows)
        if order != self._order:
            self._order = order
            self.rows.clear_widgets()
            for tid in order:
                self.rows.add_widget(self._buttons[tid])
            if not order:
                self.rows.add_widget(self.empty)
            for tid in [t for t in self._buttons if t not in order]:
                del self._buttons[tid], self._row_vms[tid]

    def _draw_row(self, row) -> None:
        button = self._buttons.get(row.task_id)
        if button is None:
            button = BigButton(name=f"task-{row.task_id}", size=theme.FONT_M, height=self.ROW_H, markup=True,
                               halign="left", on_release=lambda _b, tid=row.task_id: self.intents.open_task(tid))
            self._buttons[row.task_id] = button
        flag = f"   [b]▶ {row.overdue_text}[/b]" if row.overdue else ""
        button.set(f"{row.title}{flag}\n[b]{row.route}[/b]\n{row.due_text} · {row.pieces_text} · {row.state_text}")
        button.background_color = theme.RED if row.overdue else (theme.YELLOW if row.active else theme.DARK)
        button.color = theme.BLACK if (row.active and not row.overdue) else theme.WHITE


class TaskDetailScreen(Screen):
    """Where to go next in the largest type; the other end of the move small beneath it."""

    def __init__(self, intents, **kw):
        super().__init__(name="detail", **kw)
        self.intents = intents
        box = Band(orientation="vertical", fill=theme.BLACK, spacing=dp(4))
        head = BoxLayout(size_hint_y=None, height=dp(theme.TOUCH_MIN), spacing=dp(theme.PAD))
        self.back = BigButton(name="back", fill=theme.GREY, ink=theme.WHITE, size=theme.FONT_S,
                              height=theme.TOUCH_MIN, size_hint_x=0.25, on_release=lambda *_: intents.back())
        self.title = Text(size=theme.FONT_S, bold=True, size_hint_y=1)
        self.state = Text(size=theme.FONT_S, color=theme.YELLOW, halign="right", size_hint_x=0.35, size_hint_y=1)
        for w in (self.back, self.title, self.state):
            head.add_widget(w)
        self.target_label = Text(size=theme.FONT_S, color=theme.YELLOW)
        self.target = Text(size=theme.FONT_HUGE, bold=True, halign="center", color=theme.YELLOW)
        self.other = Text(size=theme.FONT_M, halign="center")
        self.pieces_title = Text(size=theme.FONT_M, bold=True)
        rows = (MAX_PIECE_ROWS + 1) // 2
        self.pieces = GridLayout(cols=2, size_hint_y=None, spacing=dp(2),
                                 height=rows * line_height(theme.FONT_S) + (rows - 1) * dp(2))
        self.piece_labels = [Text(size=theme.FONT_S) for _ in range(MAX_PIECE_ROWS)]
        self.due = Text(size=theme.FONT_S, bold=True)
        self.next = Text(size=theme.FONT_L, bold=True, halign="center", color=theme.BLACK)
        paint(self.next, theme.YELLOW)
        self.actions = BoxLayout(size_hint_y=None, height=dp(theme.BUTTON_H), spacing=dp(theme.PAD))
        self.accept = BigButton(name="accept", on_release=lambda *_: intents.accept())
        self.complete = BigButton(name="complete", fill=theme.GREEN, ink=theme.WHITE,
                                  on_release=lambda *_: intents.complete())
        self.report = BigButton(name="report", fill=theme.GREY, ink=theme.WHITE, size=theme.FONT_M,
                                on_release=lambda *_: intents.open_exception())
        self._actions: tuple[bool, bool, bool] | None = None
        self._pieces: tuple | None = None
        for w in (head, self.target_label, self.target, self.other, self.pieces_title, self.pieces, self.due,
                  Widget(), self.next, self.actions):
            box.add_widget(w)
        self.add_widget(box)
        self._shown = None

    def show(self, vm: ViewModel) -> None:
        d = vm.detail
        if d is None or d == self._shown:
            return
        self._shown = d
        self.back.set(d.back_text)
        self.title.set(d.title)
        self.state.set(d.state_text)
        self.target_label.set(d.target_label)
        self.target.set(d.target)
        self.other.set(f"{d.other_label}: {d.other}")
        self.pieces_title.set(d.pieces_title)
        if d.pieces != self._pieces:
            self._draw_pieces(d.pieces)
        self.due.set("   ".join((d.due_text, *d.info)))
        self.due.color = (1, 0.3, 0.3, 1) if d.overdue else theme.WHITE
        self.next.set(d.next_text)
        self.accept.set(d.accept_text)
        self.complete.set(d.complete_text)
        self.report.set(d.report_text)
        wanted = (d.can_accept, d.can_complete, d.can_report)
        if wanted != self._actions:
            self._actions = wanted
            self.actions.clear_widgets()
            for button, on in zip((self.accept, self.complete, self.report), wanted, strict=True):
                if on:
                    self.actions.add_widget(button)

    def _draw_pieces(self, pieces) -> None:
        if len(pieces) != len(self._pieces or ()):
            self.pieces.clear_widgets()
            for label in self.piece_labels[: len(pieces)]:
                self.pieces.add_widget(label)
        self._pieces = pieces
        for label, piece in zip(self.piece_labels, pieces, strict=False):
            label.set(f"{'✓' if piece.done else '○'} {piece.text}")
            label.bold = piece.done
            label.color = (0.3, 1, 0.4, 1) if piece.done else theme.WHITE


class ExceptionScreen(Screen):
    """The exception dialog: one big button per reason (each asks for a confirm); "other" takes
    the typed note."""

    def __init__(self, intents, **kw):
        super().__init__(name="exception", **kw)
        self.intents = intents
        self.box = Band(orientation="vertical", fill=theme.BLACK)
        self.title = Text(size=theme.FONT_XL, color=theme.YELLOW, bold=True, halign="center")
        self.reasons = BoxLayout(orientation="vertical", spacing=dp(theme.PAD), size_hint_y=None)
        self.reasons.bind(minimum_height=self.reasons.setter("height"))
        self.note = TextInput(font_name=FONT_NAME, font_size=sp(theme.FONT_M), size_hint_y=None,
                              height=dp(theme.TOUCH_MIN), multiline=False)
        self.note.bind(text=lambda _w, text: intents.set_note(text))
        self.cancel = BigButton(name="exception-cancel", fill=theme.GREY, ink=theme.WHITE,
                                on_release=lambda *_: intents.back())
        self._buttons: dict[str, BigButton] = {}
        for w in (self.title, self.reasons, self.note, Widget(), self.cancel):
            self.box.add_widget(w)
        self.add_widget(self.box)
        self._shown = None

    def show(self, vm: ViewModel) -> None:
        ev = vm.exception
        if ev == self._shown:
            return
        self._shown = ev
        self.title.set(ev.title)
        self.cancel.set(ev.cancel_text)
        self.note.hint_text = ev.note_hint
        for code, label in ev.reasons:
            button = self._buttons.get(code)
            if button is None:
                button = BigButton(name=f"reason-{code}", height=80, fill=theme.WHITE,
                                   on_release=lambda _b, c=code: self.intents.choose_reason(c))
                self._buttons[code] = button
                self.reasons.add_widget(button)
            button.set(label)

    def on_pre_enter(self, *_):
        self.note.text = ""  # a fresh dialog starts with no note
