"""`python -m pda_app.screenshots [--out docs/pda]`: render every screen in both languages
offscreen (SDL2 offscreen + Mesa, no display needed) to PNG, then check them.

Walks a demo board through a whole task, as a driver would, capturing each screen on the way.
Must never write anywhere but `--out` and a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from pda_app import headless

#: (file stem, what it shows); the docs list them in this order
SHOTS = (
    ("login-silent", "login while the broker is up but the platform does not answer"),
    ("login-letters", "login: the letter pad (ABC) for badges such as D0001"),
    ("login", "login: badge scanned, PIN being typed on the pad"),
    ("tasks", "task list: overdue first (red), then priority, then due-by"),
    ("confirm-logout", "log out asks first"),
    ("detail", "task detail: new task, waiting to be accepted; the source is the big text"),
    ("detail-picking", "task detail: at the source, one piece ticked"),
    ("right", "scan feedback: right piece"),
    ("wrong", "scan feedback: wrong piece: what was scanned, what was expected, how to go on"),
    ("detail-delivering", "task detail: all picked, the destination is now the big text"),
    ("exception", "exception dialog: reason codes as big buttons"),
    ("confirm-report", "a reason is reported only after its confirm"),
    ("notice", "a task cancelled by the platform mid-way, its reason code translated"),
)


async def frames(n: int = 3) -> None:
    """Let Kivy lay out and draw `n` frames (its loop runs between our awaits)."""
    from kivy.clock import Clock

    start = Clock.frames_displayed
    for _ in range(500):
        if Clock.frames_displayed >= start + n:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("Kivy drew no frames: is the window running?")


async def capture(app, path: Path) -> Path:
    await frames(6)  # labels size themselves a frame after their text, layouts a frame after that
    from kivy.core.window import Window

    Window.screenshot(name=str(path.with_suffix(".tmp.png")))
    made = sorted(path.parent.glob(path.stem + ".tmp*.png"))
    made[-1].replace(path)  # Window.screenshot numbers its files; keep our own name
    return path


async def walk(app, demo, lang: str, out: Path) -> list[Path]:
    """Drive one fresh demo board through a task, capturing every screen in `lang`."""
    p = demo.presenter
    p.lang = lang
    app.attach(p)
    shots = []

    async def shot(stem):
        shots.append(await capture(app, out / f"{stem}-{lang}.png"))

    while p.view().notice:  # the three tasks' "new task" notices
        p.dismiss_notice()
    demo.platform.silent = True  # the platform's outage, behind a working broker
    await p.scan("D-99999", source="wedge")
    for d in demo.pin:
        p.key(d)
    await p.login()
    await shot("login-silent")
    demo.platform.silent = False
    p.link.heard_platform()  # the platform is back (a command arrived)
    p.clear_login()
    p.toggle_pad()
    p.key("D")
    await shot("login-letters")
    p.clear_login()
    await p.scan(demo.badge, source="wedge")
    for d in demo.pin[:3]:
        p.key(d)
    await shot("login")
    p.key(demo.pin[3])
    await p.login()
    while p.view().notice:
        p.dismiss_notice()
    await shot("tasks")
    p.ask_logout()
    await shot("confirm-logout")
    p.confirm_no()
    p.open_task(demo.task_id)
    await shot("detail")
    await p.accept()
    await p.scan(demo.source)
    await p.scan(demo.pieces[0])
    p.dismiss_feedback()
    await shot("detail-picking")
    await p.scan(demo.pieces[1])
    await shot("right")
    await p.scan(demo.wrong_piece)
    await shot("wrong")
    await p.scan(demo.pieces[2])
    p.dismiss_feedback()
    await shot("detail-delivering")
    p.open_exception()
    await shot("exception")
    p.choose_reason("damaged")
    await shot("confirm-report")
    p.confirm_no()
    p.back()
    await demo.cancel_active()
    await shot("notice")
    return shots


def main(argv: list[str] | None = None, *, make_demo: Callable[[Path], Awaitable] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pda_app.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/pda"), help="folder for the PNGs (default docs/pda)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="portedge-shots-"))
    headless.prepare(offscreen=True, kivy_home=str(work / "kivy"))
    headless.configure_window()

    from pda_app import demo as demo_mod
    from pda_app.app import PdaApp
    from pda_app.check import check_screenshots, glyph_problems, kivy_renderer

    make_demo = make_demo or demo_mod.make_demo
    made: list[Path] = []
    problems: list[str] = []

    async def run() -> None:
        first = await make_demo(work / "zh")
        app = PdaApp(first.presenter, sound_dir=work / "sounds")

        async def script():
            try:
                await frames(20)  # the first layout of a fresh window takes a few passes
                # the app's own text renderer must draw Chinese, not the .notdef box
                from pda_app.fonts import FONT_NAME
                problems.extend(f"kivy: {p}" for p in glyph_problems(kivy_renderer(FONT_NAME)))
                demo = first
                for lang in ("zh", "en"):
                    made.extend(await walk(app, demo, lang, args.out))
                    await demo.close()
                    if lang == "zh":
                        demo = await make_demo(work / "en")
            finally:
                app.stop()

        await asyncio.gather(app.async_run(async_lib="asyncio"), script())

    try:
        asyncio.run(run())
    except Exception:  # Kivy's console log is off offscreen: say what broke, then fail
        traceback.print_exc(file=sys.__stderr__)
        return 2
    problems += check_screenshots(args.out, [stem for stem, _ in SHOTS])
    for path in made:
        print(path)
    for problem in problems:
        print(f"problem: {problem}", file=sys.__stderr__)  # Kivy swallows sys.stderr
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
