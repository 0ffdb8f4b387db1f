"""Environment for Kivy before it is imported: offscreen rendering, quiet logs, a private
KIVY_HOME. Kivy reads these once, at import, so `prepare()` must run before any `import kivy`.

Must never import Kivy itself.
"""

from __future__ import annotations

import os
import sys
import tempfile


def prepare(*, offscreen: bool, kivy_home: str | None = None, size: tuple[int, int] = (480, 800),
            debug: bool = False) -> None:
    """Set Kivy's environment. `offscreen=True` renders with SDL2's offscreen video driver
    (Mesa's llvmpipe does the GL), so no X server or display is needed. Kivy's own log (some
    85 lines at start, CRITICAL ones among them for providers a PDA does not need) stays quiet
    unless `debug` or PORTEDGE_KIVY_LOG=1."""
    if "kivy" in sys.modules:
        raise RuntimeError("pda_app.headless.prepare() must run before Kivy is imported")
    os.environ["KIVY_NO_ARGS"] = "1"  # our own argparse owns the command line
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_NO_CONFIG", "1")  # never write ~/.kivy/config.ini
    os.environ["KIVY_HOME"] = kivy_home or os.environ.get("KIVY_HOME") or tempfile.mkdtemp(prefix="portedge-kivy-")
    # Kivy logs through its own logger only: it never takes over sys.stderr or the root logger,
    # so the agent's log and a CLI error reach the terminal as they would without Kivy
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    if not debug and os.environ.get("PORTEDGE_KIVY_LOG") != "1":
        os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    if offscreen:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
        os.environ["KIVY_WINDOW"] = "sdl2"
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        os.environ.setdefault("KIVY_CLIPBOARD", "dummy")  # no X selection tools offscreen
        # one window pixel per dp, so screenshots show sizes as designed
        os.environ.setdefault("KIVY_METRICS_DENSITY", "1")
        os.environ.setdefault("KIVY_DPI", "160")
    width, height = size
    os.environ["PORTEDGE_PDA_SIZE"] = f"{width}x{height}"


def configure_window() -> None:
    """Apply the window size chosen in `prepare` (call after importing kivy.config only)."""
    from kivy.config import Config

    width, height = os.environ.get("PORTEDGE_PDA_SIZE", "480x800").split("x")
    Config.set("graphics", "width", width)
    Config.set("graphics", "height", height)
    Config.set("graphics", "resizable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")
