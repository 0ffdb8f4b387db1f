"""Run by test_gui.py in its own process (Kivy allows one app per process): renders the PDA
offscreen on the real task board, drives it with touches and keyboard-wedge scans through a
whole task, and checks what the screen shows. Prints one JSON line; exits 1 on any failure."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pda_app import headless  # noqa: E402

WORK = Path(sys.argv[1])
headless.prepare(offscreen=True, kivy_home=str(WORK / "kivy"))
headless.configure_window()

from kivy.core.window import Window  # noqa: E402
from kivy.metrics import dp  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402
from kivy.uix.behaviors import ButtonBehavior  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from pda_app.app import PdaApp  # noqa: E402
from pda_app.demo import make_demo  # noqa: E402
from pda_app.haptics import RIGHT_MS, WRONG_MS  # noqa: E402
from pda_app.screenshots import frames  # noqa: E402

failures: list[str] = []
buzzes: list[tuple[int, ...]] = []


class Recorded:
    """The vibration hook's seam: what the app asked the motor to do."""

    def pulse(self, pattern_ms):
        buzzes.append(pattern_ms)

steps: list[str] = []


def visible(app):
    """Widgets on screen now: status bar, current screen, overlays."""
    roots = [app.status, app.manager.current_screen] + [w for w in (app.confirm, app.notice, app.feedback) if w.parent]
    for root in roots:
        yield from root.walk()


def find(app, name):
    for w in visible(app):
        if getattr(w, "name", None) == name and isinstance(w, Label | ButtonBehavior) and not w.disabled:
            return w
    raise LookupError(f"no widget {name!r} on screen {app.manager.current}")


def texts(app) -> str:
    return "\n".join(w.text for w in visible(app) if isinstance(w, Label))


async def settle(app):
    await frames(2)
    for _ in range(300):
        if not app._tasks:
            break
        await asyncio.sleep(0.01)
    await frames(3)


async def tap(app, name):
    w = find(app, name)
    x, y = w.to_window(*w.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    await settle(app)


async def wedge(app, text):
    for ch in text:
        Window.dispatch("on_textinput", ch)
    Window.dispatch("on_key_down", 13, 40, None, [])
    await settle(app)


def expect(app, step, *needles, absent=()):
    steps.append(step)
    shown = texts(app)
    for needle in needles:
        if needle not in shown:
            failures.append(f"{step}: {needle!r} not on screen; screen has: {shown!r}")
    for needle in absent:
        if needle in shown:
            failures.append(f"{step}: {needle!r} should not be on screen")


async def script(app, demo):
    try:
        await settle(app)
        expect(app, "start on login", "司机登录", "在线", "未登录", "平台 刚刚", "待上传 3")
        for key in ("pad-letters", "key-D", "pad-digits", "key-0", "key-0", "key-0", "key-1"):
            await tap(app, key)
        expect(app, "badge keyed with letters", "D0001")
        await tap(app, "key-clear")
        await wedge(app, demo.badge)
        expect(app, "badge scanned by wedge", demo.badge)
        for digit in demo.pin:
            await tap(app, f"key-{digit}")
        expect(app, "pin typed on the pad", "●●●●")
        await tap(app, "login")
        expect(app, "logged in", "我的任务 (3)", "王师傅")
        while app.notice.parent:
            await tap(app, "notice")
        rows = [w for w in app.screens["tasks"].rows.children[::-1]]
        if not rows or rows[0].name != "task-T-1039" or "已超时" not in rows[0].text:
            failures.append(f"overdue task not first and marked: {[r.text for r in rows]}")
        await tap(app, "task-T-1042")
        expect(app, "detail", "A-03-12-2", "BAY-07", "接受任务", "第 3 件")
        if app.screens["detail"].target.font_size < dp(60) or app.screens["detail"].target.text != demo.source:
            failures.append("the source location is not in very large type")
        await tap(app, "accept")
        expect(app, "accepted: no right/wrong for a button", "请扫描取货位标签", absent=("正确 / Right",))
        await wedge(app, "B-01-04-1")
        expect(app, "wrong location", "错误 / Wrong", "库位错误", "扫描: B-01-04-1", "应扫: 库位 A-03-12-2",
               "点击任意处或扫下一个继续")
        await wedge(app, demo.source)  # the next scan replaces the wrong answer
        expect(app, "at source", "正确 / Right", "已到取货位")
        await tap(app, "feedback")
        await wedge(app, demo.pieces[0])
        await wedge(app, demo.wrong_piece)
        expect(app, "wrong piece", "错误 / Wrong", "不是本任务的货物", demo.wrong_piece)
        await tap(app, "feedback")
        expect(app, "wrong piece did not advance", "货物 1/3", "✓ 第 1 件", "○ 第 2 件")
        await wedge(app, demo.pieces[0])
        expect(app, "duplicate piece", "错误 / Wrong", "该货物已扫描")
        await tap(app, "feedback")
        await wedge(app, demo.pieces[1])
        await wedge(app, demo.pieces[2])
        expect(app, "all picked", "货物 3/3", "✓ 第 3 件", "请扫描目的地标签")
        if app.screens["detail"].target.text != demo.destination:
            failures.append("after pickup the destination is not the large text")
        await wedge(app, demo.destination)
        expect(app, "delivered", "已送达")
        await tap(app, "complete")
        expect(app, "completed", "我的任务 (2)", absent=("T-1042",))
        await tap(app, "feedback")  # the destination scan's answer, if it has not closed itself yet
        await tap(app, "lang")
        expect(app, "english", "My tasks (2)", "Online", "中文")
        await tap(app, "task-T-1045")
        await tap(app, "accept")
        await tap(app, "report")
        expect(app, "exception dialog", "Report a problem", "Damaged", "Count mismatch")
        await tap(app, "reason-damaged")
        expect(app, "exception confirm", "Report a problem: Damaged?", "Go back")
        await tap(app, "confirm-no")
        if demo.board.task("T-1045").state != "ACCEPTED":
            failures.append("a reason was reported without its confirm")
        await tap(app, "reason-damaged")
        await tap(app, "confirm-yes")
        expect(app, "exception reported", "Problem reported")
        small = [w.name for w in visible(app) if getattr(w, "name", "") and w.height < dp(48)]
        if small:
            failures.append(f"touch targets under 48 dp: {small}")
        await tap(app, "back")
        await tap(app, "logout")
        expect(app, "logout confirm", "Log out?")
        await tap(app, "confirm-yes")
        expect(app, "logged out", "Driver login", "Not logged in")
        if buzzes[:2] != [WRONG_MS, RIGHT_MS]:  # wrong location, then the right one
            failures.append(f"vibration patterns not as answered: {buzzes}")
        if gc.get_freeze_count() < 1000:  # the app froze its start-up objects a second after start
            failures.append(f"start-up objects not frozen: {gc.get_freeze_count()}")
        states = [(e.body.task_id, e.body.state) for e in demo.recorder.sent if e.type == "task_update"]
        mine = [s for tid, s in states if tid == "T-1042"]
        if mine != ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED", "COMPLETED"]:
            failures.append(f"T-1042 updates out of order or missing: {mine}")
    except Exception as err:  # noqa: BLE001 - report, don't hang the app
        failures.append(f"{type(err).__name__}: {err}")
    finally:
        app.stop()


async def main():
    demo = await make_demo(WORK / "board")
    app = PdaApp(demo.presenter, sound_dir=WORK / "sounds", vibrator=Recorded())
    await asyncio.gather(app.async_run(async_lib="asyncio"), script(app, demo))
    await demo.close()


asyncio.run(main())
print(json.dumps({"steps": steps, "failures": failures}, ensure_ascii=False))
sys.exit(1 if failures else 0)
