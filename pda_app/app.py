"""The Kivy application: lays out the status bar, the screens and the overlays, renders the
presenter's view models and turns touches and wedge keystrokes into presenter intents.

Import only after `pda_app.headless.prepare()` (Kivy reads its environment at import). Never
talks to the board, a serial port or SQLite: everything goes through the presenter.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.uix.textinput import TextInput

from pda_app import fonts, haptics, theme
from pda_app.overlays import ConfirmPanel, FeedbackPanel, NoticePanel
from pda_app.presenter import Presenter, ViewModel
from pda_app.scanners import IntentInput, ScanInput, WedgeInput
from pda_app.screens import (
    ExceptionScreen,
    LoginScreen,
    StatusBar,
    TaskDetailScreen,
    TaskListScreen,
)
from pda_app.sound import Beeper

log = logging.getLogger(__name__)


class PdaApp(App):
    title = "Port Edge PDA"

    def __init__(self, presenter: Presenter, *, sound_dir: Path | None = None,
                 vibrator: haptics.Vibrator | None = None, **kw):
        super().__init__(**kw)
        self.presenter = presenter
        self.font = fonts.register()
        self.wedge = WedgeInput(typing=self._typing_in_field)
        self.inputs: list[ScanInput] = [self.wedge, IntentInput()]  # serial scanners come through the core
        self.sound_dir = sound_dir
        self.beeper: Beeper | None = None
        self.vibrator = vibrator
        self.vm: ViewModel | None = None
        self._tasks: set[asyncio.Task] = set()
        self._feedback_seen = 0
        self._dismiss_event = None
        self._unsubscribe = None

    # -- layout ---------------------------------------------------------------------------
    def build(self):
        Window.clearcolor = theme.BLACK
        root = BoxLayout(orientation="vertical")
        self.status = StatusBar(self)
        self.stage = FloatLayout()
        self.manager = ScreenManager(transition=NoTransition())
        self.screens = {s.name: s for s in (LoginScreen(self), TaskListScreen(self), TaskDetailScreen(self),
                                              ExceptionScreen(self))}
        for screen in self.screens.values():
            self.manager.add_widget(screen)
        self.stage.add_widget(self.manager)
        # bottom to top; a tap on the answer or the notice dismisses it
        self.confirm = ConfirmPanel(on_yes=lambda: self.spawn(self.presenter.confirm_yes()),
                                    on_no=lambda: self.presenter.confirm_no())
        self.notice = NoticePanel(on_tap=lambda: self.presenter.dismiss_notice())
        self.feedback = FeedbackPanel(on_tap=lambda: self.presenter.dismiss_feedback())
        self._overlays = (self.confirm, self.notice, self.feedback)
        self._showing: tuple[bool, ...] = (False, False, False)
        root.add_widget(self.status)
        root.add_widget(self.stage)
        return root

    def on_start(self):
        for scan_input in self.inputs:
            scan_input.start(self.deliver_scan)
        self.beeper = Beeper(self.sound_dir or Path(self.user_data_dir) / "sounds")
        if self.vibrator is None:
            self.vibrator = haptics.device_vibrator()
        self._unsubscribe = self.presenter.subscribe(self.render)
        self.render(self.presenter.view())
        Clock.schedule_once(self._settled, 1.0)

    @staticmethod
    def _settled(_dt) -> None:
        """Start-up made tens of thousands of long-lived objects (Kivy, pydantic models, the
        agent); move them out of the collector's sight so a full collection during a burst of
        scans walks only what the burst made (a 46-115 ms pause before, see docs/benchmarks.md)."""
        gc.collect()
        gc.freeze()

    def on_stop(self):
        for scan_input in self.inputs:
            scan_input.stop()
        if self._unsubscribe:
            self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()

    def attach(self, presenter: Presenter) -> None:
        """Show another presenter (the screenshot tool walks a fresh board per language)."""
        if self._unsubscribe:
            self._unsubscribe()
        self.presenter = presenter
        self._unsubscribe = presenter.subscribe(self.render)
        self.render(presenter.view())

    # -- rendering ------------------------------------------------------------------------
    def render(self, vm: ViewModel) -> None:
        self.vm = vm
        self.status.show(vm)
        self.screens[vm.screen].show(vm)
        if self.manager.current != vm.screen:
            self.manager.current = vm.screen
        if vm.confirm is not None:
            self.confirm.show(vm.confirm)
        if vm.notice is not None:
            self.notice.show(vm.notice)
        if vm.feedback is not None:
            self._answer(vm)
            self.feedback.show(vm.feedback)
        self._layer((vm.confirm is not None, vm.notice is not None and vm.feedback is None, vm.feedback is not None))

    def _answer(self, vm: ViewModel) -> None:
        """Once per new answer: the sound, the vibration, and the auto-dismiss of a right one."""
        fb = vm.feedback
        if fb is None or fb.serial == self._feedback_seen:
            return
        self._feedback_seen = fb.serial
        if self.beeper:
            self.beeper.play(fb.ok)
        if self.vibrator:
            self.vibrator.pulse(haptics.pattern(fb.ok))
        if self._dismiss_event:
            self._dismiss_event.cancel()
            self._dismiss_event = None
        if fb.auto_dismiss_s:
            serial = fb.serial
            self._dismiss_event = Clock.schedule_once(lambda _dt: self._auto_dismiss(serial), fb.auto_dismiss_s)

    def _auto_dismiss(self, serial: int) -> None:
        if self.vm and self.vm.feedback and self.vm.feedback.serial == serial:
            self.presenter.dismiss_feedback()

    def _layer(self, showing: tuple[bool, ...]) -> None:
        """Put the overlays that should show on the stage, in their fixed order."""
        if showing == self._showing:
            return
        self._showing = showing
        for overlay in self._overlays:
            if overlay.parent is not None:
                self.stage.remove_widget(overlay)
        for overlay, on in zip(self._overlays, showing, strict=True):
            if on:
                self.stage.add_widget(overlay)

    # -- scanner input (pda_app/scanners.py) ---------------------------------------------
    def _typing_in_field(self) -> bool:
        return any(isinstance(w, TextInput) and w.focus for w in self.screens["exception"].walk())

    def deliver_scan(self, data: str, source: str) -> None:
        """Every scan input's one way in: the presenter's scan intent, on the UI loop."""
        self.spawn(self.presenter.scan(data, source=source))

    # -- intents (called by the screens) --------------------------------------------------
    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_event_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("PDA action failed", exc_info=task.exception())

    def switch_language(self):
        self.presenter.switch_language()

    def focus(self, field):
        self.presenter.focus(field)

    def key(self, char):
        self.presenter.key(char)

    def backspace(self):
        self.presenter.backspace()

    def clear_login(self):
        self.presenter.clear_login()

    def login(self):
        return self.spawn(self.presenter.login())

    def ask_logout(self):
        self.presenter.ask_logout()

    def toggle_pad(self):
        self.presenter.toggle_pad()

    def open_task(self, task_id):
        self.presenter.open_task(task_id)

    def back(self):
        self.presenter.back()

    def accept(self):
        return self.spawn(self.presenter.accept())

    def complete(self):
        return self.spawn(self.presenter.complete())

    def open_exception(self):
        self.presenter.open_exception()

    def choose_reason(self, reason):
        self.presenter.choose_reason(reason)

    def set_note(self, text):
        self.presenter.set_note(text)
