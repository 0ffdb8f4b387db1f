"""Run by test_gui.py in its own process: renders every screen, overlay and dialog offscreen with
the longest texts it can show (every message in both languages, the longest realistic task
data) and checks the widget bounds: nothing outside its parent, no siblings overlapping, the
screens below the status bar, and no text larger than its box or shrunk past half its size.
Prints one JSON line; exits 1 on any problem."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pda_app import headless  # noqa: E402

WORK = Path(sys.argv[1])
headless.prepare(offscreen=True, kivy_home=str(WORK / "kivy"))
headless.configure_window()

from kivy.metrics import dp  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.gridlayout import GridLayout  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.scrollview import ScrollView  # noqa: E402

from agent.contract.tasks import Task  # noqa: E402
from agent.tasks.messages import MESSAGES  # noqa: E402
from pda_app import theme  # noqa: E402
from pda_app.app import PdaApp  # noqa: E402
from pda_app.demo import START, make_demo  # noqa: E402
from pda_app.i18n import PLATFORM_REASONS, TEXT  # noqa: E402
from pda_app.screenshots import frames  # noqa: E402
from pda_app.viewmodels import FeedbackVM, NoticeVM  # noqa: E402
from pda_app.widgets import BigButton  # noqa: E402

MIN_SCALE = 0.5  # a text may shrink to half its design size, no further
problems: list[str] = []
checked: list[str] = []

def sscc(n: int) -> str:
    """A GS1 SSCC label with its mod-10 check digit."""
    base = f"3761234500000{n:04d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(base)))
    return f"(00){base}{(10 - total % 10) % 10}"


#: the longest task data the screens are designed for (ids, locations, labels as the port uses them)
LONG_TASKS = [
    Task(task_id="T-2026-0001042", kind="TO_INSPECTION", priority=1, due_by=START - timedelta(minutes=5),
         awb="17612345675", pieces=10, source_location="AB-03-12-2-1", destination="BAY-07-NORTH",
         customs_ref="CUS-2026-0000113", notes="X-ray + sniffer dog",
         piece_labels=[sscc(i) for i in range(10)]),
    Task(task_id="T-2026-0001043", kind="TO_INSPECTION", priority=2, due_by=START + timedelta(minutes=50),
         awb="17612345675", pieces=9999, source_location="AB-03-12-2-2", destination="BAY-07-SOUTH"),
]


def rect(w):
    x, y = w.to_window(w.x, w.y)
    return x, y, x + w.width, y + w.height


def inside(outer, inner, slack=1.0):
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


def overlap(a, b, slack=1.0):
    return min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack


def check(app, where: str) -> None:
    checked.append(where)
    roots = [app.status, app.manager.current_screen] + [w for w in app._overlays if w.parent]
    if overlap(rect(app.status), rect(app.stage), slack=0.5):
        problems.append(f"{where}: the status bar overlaps the screen")
    for root in roots:
        for w in root.walk(restrict=True):
            name = getattr(w, "name", "") or type(w).__name__
            parent = w.parent
            if w is not root and parent is not None and not isinstance(parent, ScrollView):
                if not inside(rect(parent), rect(w)):
                    problems.append(f"{where}: {name} {rect(w)} sticks out of its parent {rect(parent)}")
            if root is not app.status and not isinstance(parent, ScrollView) and not inside(rect(app.stage), rect(w)):
                problems.append(f"{where}: {name} is outside the screen area (under the status bar?)")
            if isinstance(w, BoxLayout | GridLayout):
                for a, b in combinations([c for c in w.children if c.width > 0 and c.height > 0], 2):
                    if overlap(rect(a), rect(b)):
                        problems.append(f"{where}: {getattr(a, 'name', '') or a} overlaps {getattr(b, 'name', '') or b}")
            if isinstance(w, BigButton) and w.height < dp(theme.TOUCH_MIN) - 1:
                problems.append(f"{where}: {name} is {w.height:.0f} px high, under {theme.TOUCH_MIN} dp")
            if isinstance(w, Label) and w.text and hasattr(w, "max_font"):
                tw, th = w.texture_size
                if tw > w.width + 1 or th > w.height + 1:
                    problems.append(f"{where}: text {w.text!r} ({tw}x{th}) larger than its box ({w.width}x{w.height})")
                if w.font_size < MIN_SCALE * w.max_font:
                    problems.append(f"{where}: text {w.text!r} shrunk to {w.font_size / w.max_font:.0%}")


async def settle(app, n=8):
    await frames(n)


async def script(app, demo):
    p = demo.presenter
    try:
        await settle(app, 20)
        for lang in ("zh", "en"):
            p.lang = lang
            p.link.waiting = 99999
            p.link.last_contact = p.link._now() - 59 * 60  # "Platform 59m ago"
            while p.view().notice:
                p.dismiss_notice()
            demo.platform.silent = True
            await p.scan("D-2026-00001")
            for d in "123456789012":
                p.key(d)
            await p.login()  # the longest login message, in the status bar's longest words
            p.link.set_broker(True)
            p.link.platform_unanswered()
            p.changed()
            await settle(app)
            check(app, f"{lang} login, platform silent")
            p.clear_login()
            p.toggle_pad()
            for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
                p.key(ch)
            await settle(app)
            check(app, f"{lang} login, letter pad, long badge")
            demo.platform.silent = False
            p.clear_login()
            await p.scan("D-20417")
            for d in "1234":
                p.key(d)
            await p.login()
            while p.view().notice:
                p.dismiss_notice()
            await settle(app)
            check(app, f"{lang} task list")
            p.ask_logout()
            await settle(app)
            check(app, f"{lang} confirm logout")
            p.confirm_no()
            p.open_task("T-2026-0001043")
            await settle(app)
            check(app, f"{lang} detail, 9999 pieces")
            p.back()
            p.open_task("T-2026-0001042")
            await settle(app)
            check(app, f"{lang} detail, assigned")
            await p.accept()
            await p.scan("AB-03-12-2-1")
            for label in LONG_TASKS[0].piece_labels[:9]:
                await p.scan(label)
            p.dismiss_feedback()
            await settle(app)
            check(app, f"{lang} detail, 10 long piece labels")
            await p.scan(sscc(77))
            await settle(app)
            check(app, f"{lang} wrong piece")
            await p.scan(LONG_TASKS[0].piece_labels[9])
            p.dismiss_feedback()
            await p.scan("BAY-07-NORTH")
            p.dismiss_feedback()
            await settle(app)
            check(app, f"{lang} detail, delivered")
            p.open_exception()
            await settle(app)
            check(app, f"{lang} exception dialog")
            for reason in ("count_mismatch", "wrong_location", "piece_missing"):
                p.choose_reason(reason)
                await settle(app)
                check(app, f"{lang} confirm {reason}")
                p.confirm_no()
            p.back()
            # every answer the board can give, in the longest form the overlay shows it
            for code, texts in MESSAGES.items():
                text = texts[0] if lang == "zh" else texts[1]
                for ok in (True, False):
                    fb = FeedbackVM(ok=ok, headline="错误 / Wrong", message=text,
                                    scanned_text=f"{TEXT['feedback.scanned'][lang]}: {sscc(77)}",
                                    expected_text=f"{TEXT['feedback.expected'][lang]}: {TEXT['expect.awb'][lang].format(awb='17612345675')}",
                                    continue_text=TEXT["feedback.continue"][lang], serial=0, auto_dismiss_s=None)
                    app.feedback.show(fb)
                    app._layer((False, False, True))
                    await settle(app, 3)
                    check(app, f"{lang} answer {code} ({'right' if ok else 'wrong'})")
            app._layer((False, False, False))
            for code in (*PLATFORM_REASONS, "a reason code this PDA has never heard of, in full"):
                from pda_app.i18n import platform_text, t

                app.notice.show(NoticeVM(t("notice.reassigned", lang, task="T-2026-0001042") + "\n"
                                         + platform_text(code, lang), t("notice.ok", lang)))
                app._layer((False, True, False))
                await settle(app, 3)
                check(app, f"{lang} notice {code[:20]}")
            app._layer((False, False, False))
            await p.logout()
            await demo.close()
            from pda_app.demo import make_demo as again

            demo = await again(WORK / f"board-{lang}-2", tasks=LONG_TASKS, driver_name="欧阳建国 Ouyang Jianguo")
            app.attach(demo.presenter)
            p = demo.presenter
    except Exception as err:  # noqa: BLE001 - report, don't hang the app
        import traceback

        problems.append(f"{type(err).__name__}: {err} {traceback.format_exc()[-800:]}")
    finally:
        app.stop()
        await demo.close()


async def main():
    demo = await make_demo(WORK / "board", tasks=LONG_TASKS, driver_name="欧阳建国 Ouyang Jianguo")
    app = PdaApp(demo.presenter, sound_dir=WORK / "sounds")
    await asyncio.gather(app.async_run(async_lib="asyncio"), script(app, demo))


asyncio.run(main())
print(json.dumps({"checked": checked, "problems": problems[:60], "count": len(problems)}, ensure_ascii=False))
sys.exit(1 if problems else 0)
