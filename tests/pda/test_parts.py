"""Display-free parts of the PDA app: words, wedge framing, font choice and tofu check,
layering (no Kivy below the screens), and the serial-scanner path through the core."""

from __future__ import annotations

import ast
import asyncio
import string
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config.model import NodeConfig
from agent.contract.devices import Scan
from pda_app import fonts
from pda_app.check import glyph_problems, pil_renderer
from pda_app.i18n import LANGS, TEXT, both, t
from pda_app.wedge import WedgeBuffer

ROOT = Path(__file__).resolve().parents[2]


def test_every_text_has_both_languages_with_the_same_fields():
    fields = lambda s: sorted(f for _, f, _, _ in string.Formatter().parse(s) if f)  # noqa: E731
    for key, langs in TEXT.items():
        assert set(langs) == set(LANGS), key
        assert fields(langs["zh"]) == fields(langs["en"]), key
        assert langs["zh"] != langs["en"] or key.startswith(("lang", "login.pad")), key
    assert both("feedback.wrong") == "错误 / Wrong"
    with pytest.raises(KeyError):
        t("no.such.key", "zh")


def test_wedge_hands_on_whole_scans_only():
    w = WedgeBuffer(max_length=20)
    w.text("1761234")
    assert w.pending == "1761234"
    w.text("5675\r")
    assert w.enter() == "17612345675"
    assert w.enter() is None and w.counters["empty"] == 1
    w.text("]C1\x1d0037612345")  # GS1 FNC1 arrives as GS and is kept
    assert w.enter() == "]C1\x1d0037612345"
    w.text("x" * 21)
    assert w.pending == "" and w.counters["overlong"] == 1


def test_a_cjk_font_is_found_and_draws_chinese():
    choice = fonts.find_cjk_font()
    assert choice.path.is_file() and choice.licence
    assert glyph_problems(pil_renderer(str(choice.path))) == []


def test_tofu_check_catches_a_font_without_chinese():
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not latin.is_file():
        pytest.skip("DejaVu not installed")
    problems = glyph_problems(pil_renderer(str(latin)))
    assert any("tofu" in p for p in problems)


def test_missing_font_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTEDGE_CJK_FONT", str(tmp_path / "nope.ttc"))
    with pytest.raises(fonts.CjkFontMissing, match="fonts-wqy-microhei"):
        fonts.find_cjk_font()


def test_presenter_core_and_demo_never_import_kivy():
    code = ("import sys, pda_app.presenter, pda_app.core, pda_app.demo, pda_app.wedge, pda_app.i18n, "
            "pda_app.check, pda_app.fonts; sys.exit('kivy' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_agent_never_imports_pda_app():
    """`portedge pda` loads the app by name at run time (importlib), never by an import."""
    offenders = []
    for path in (ROOT / "agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] == "pda_app"]
    assert offenders == []


def test_serial_scanner_reads_reach_the_presenter(mosquitto, tmp_path):
    from pda_app.core import PdaCore, board_path

    config = NodeConfig.model_validate({
        "node": {"id": "pda-07", "site": "test", "role": "pda"},
        "broker": {"url": mosquitto.url},
        "storage": {"path": str(tmp_path / "pda.db")},
        "pda": {"pin_hash_n": 1024},
    })

    async def scenario():
        core = PdaCore(config)
        await core.start()
        try:
            for _ in range(200):
                if core.refresh() or core.presenter.view().status.online:
                    break
                await asyncio.sleep(0.02)
            assert core.presenter.view().status.online
            await core.emit("ring-1", Scan(device="ring-1", data="D-20417"))
            return core.presenter.view().login
        finally:
            await core.stop()

    login = asyncio.run(scenario())
    assert (login.badge, login.focus) == ("D-20417", "pin")
    assert board_path(config).name == "pda.tasks.db" and board_path(config).is_file()
