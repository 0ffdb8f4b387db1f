"""The Kivy app rendered offscreen (SDL2 offscreen + Mesa), each run in its own process
because Kivy allows one app per process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pda_app.check import check_screenshots
from pda_app.screenshots import SHOTS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.gui


def test_driver_walks_a_whole_task_with_touches_and_wedge_scans(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tests/pda/gui_walk.py"), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, f"no report from the GUI walk: rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    report = json.loads(lines[-1])
    assert report["failures"] == []
    assert "exception reported" in report["steps"]  # it got to the end
    assert proc.returncode == 0


def test_every_screen_fits_its_box_with_the_longest_texts_in_both_languages(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tests/pda/layout_walk.py"), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, f"no report from the layout walk: rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    report = json.loads(lines[-1])
    assert report["problems"] == []
    assert len(report["checked"]) > 150  # every screen, dialog and answer, twice
    assert proc.returncode == 0


def test_screenshots_render_every_screen_in_both_languages_without_tofu(tmp_path):
    out = tmp_path / "shots"
    proc = subprocess.run([sys.executable, "-m", "pda_app.screenshots", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{s}-{lang}.png" for s, _ in SHOTS for lang in ("zh", "en"))
    assert check_screenshots(out, [s for s, _ in SHOTS]) == []


def test_screenshot_check_fails_when_chinese_is_drawn_as_tofu(tmp_path):
    env = {"PORTEDGE_CJK_FONT": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"}
    if not Path(env["PORTEDGE_CJK_FONT"]).is_file():
        pytest.skip("DejaVu not installed")
    import os

    proc = subprocess.run([sys.executable, "-m", "pda_app.screenshots", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240, env={**os.environ, **env})
    assert proc.returncode == 1
    assert "draws as the .notdef box (tofu)" in proc.stderr


def test_committed_screenshots_are_complete_and_not_blank():
    assert check_screenshots(ROOT / "docs/pda", [s for s, _ in SHOTS]) == []


def test_kivy_log_is_quiet_unless_debug(mosquitto, tmp_path):
    config = tmp_path / "pda.toml"
    config.write_text('[node]\nid = "pda-07"\nsite = "baiyun-cargo"\nrole = "pda"\n'
                      f'[broker]\nurl = "{mosquitto.url}"\n[storage]\npath = "var/pda-07.db"\n')
    runs = {}
    for flags in ((), ("--debug",)):
        proc = subprocess.run([sys.executable, "-m", "agent", *flags, "pda", "--config", str(config), "--offscreen",
                               "--exit-after", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs[flags] = proc.stdout + proc.stderr
    quiet, loud = runs[()], runs[("--debug",)]
    assert "[Kivy" not in quiet and "CRITICAL" not in quiet and len(quiet.splitlines()) <= 2, quiet
    assert "[Kivy" in loud and "v2." in loud  # the same run with --debug shows Kivy's log
