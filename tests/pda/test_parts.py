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


def test_the_app_ships_its_cjk_font_with_its_licence_and_it_draws_chinese(monkeypatch):
    monkeypatch.delenv("PORTEDGE_CJK_FONT", raising=False)
    choice = fonts.find_cjk_font()
    assert choice.path == fonts.SHIPPED and choice.path.is_file() and "Apache-2.0" in choice.licence
    licence = fonts.LICENCE.read_text()
    assert "Apache License" in licence and "WenQuanYi" in licence and "CHANGED" in licence
    assert glyph_problems(pil_renderer(str(choice.path))) == []


def test_the_shipped_font_covers_every_character_the_app_shows():
    from fontTools.ttLib import TTFont

    from pda_app.fontsubset import gb2312_level1, ui_characters

    cmap = TTFont(str(fonts.SHIPPED)).getBestCmap()
    wanted = ui_characters() | {chr(c) for c in range(0x20, 0x7F)} | {"王", "欧", "阳"}
    assert len(ui_characters()) > 150  # the source scan sees the app's words (both languages)
    assert sorted(ch for ch in wanted if ord(ch) not in cmap) == []
    assert sum(ord(ch) in cmap for ch in gb2312_level1()) == 3755  # common hanzi: names, notes


def test_tofu_check_catches_a_font_without_chinese():
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not latin.is_file():
        pytest.skip("DejaVu not installed")
    problems = glyph_problems(pil_renderer(str(latin)))
    assert any("tofu" in p for p in problems)


def test_missing_font_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTEDGE_CJK_FONT", str(tmp_path / "nope.ttc"))
    with pytest.raises(fonts.CjkFontMissing, match="PORTEDGE_CJK_FONT"):
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


def test_vendor_scan_intents_reach_the_same_deliver_as_the_wedge():
    from pda_app.scanners import VENDOR_INTENTS, IntentInput

    got = []
    scans = IntentInput()
    scans.start(lambda text, source: got.append((text, source)))  # not Android: the hook only
    urovo, zebra = VENDOR_INTENTS["urovo"], VENDOR_INTENTS["zebra"]
    assert scans.on_intent(urovo.action, {urovo.data_extra: " 17612345675-001 \n"})
    assert scans.on_intent(zebra.action, {zebra.data_extra: "A-03-12-2", "com.symbol.datawedge.label_type": "LABEL-TYPE-CODE128"})
    assert not scans.on_intent("android.intent.action.BATTERY_LOW", {"level": "5"})
    assert not scans.on_intent(urovo.action, {"something_else": "x"})
    assert not scans.on_intent(urovo.action, {urovo.data_extra: "9" * 600})
    assert got == [("17612345675-001", "intent:urovo"), ("A-03-12-2", "intent:zebra")]
    assert scans.counters == {"urovo": 1, "zebra": 1, "other_action": 1, "no_data": 1, "overlong": 1}
    scans.stop()


def test_android_starting_point_stages_the_app_and_names_what_it_imports(tmp_path):
    """Not an Android build (none runs here): the staged folder has what buildozer packs, and the
    spec's requirements name every third-party package the PDA imports on its way to the screen."""
    import configparser

    from pda_app.android.stage import stage

    stage(tmp_path)
    assert (tmp_path / "main.py").is_file() and (tmp_path / "pda_app/assets/PortEdgeCJK-subset.ttf").is_file()
    assert (tmp_path / "pda_app/assets/LICENSE-WenQuanYi-Micro-Hei.txt").is_file()
    assert not (tmp_path / "tests").exists() and not (tmp_path / "pda_app/android").exists()
    spec = configparser.ConfigParser()
    spec.read(tmp_path / "buildozer.spec")
    assert "NOT BUILT IN CI" in (tmp_path / "buildozer.spec").read_text()
    wanted = {r.split("==")[0] for r in spec["app"]["requirements"].split(",")}
    assert {"ttf", "txt"} <= set(spec["app"]["source.include_exts"].split(","))
    code = ("import sys, agent.cli.main, pda_app.cli, agent.config.load, pda_app.core, pda_app.scanners; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    imported = set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.split())
    names = {"paho": "paho-mqtt", "pydantic": "pydantic", "pydantic_core": "pydantic-core", "stdnum": "python-stdnum",
             "biip": "biip", "prometheus_client": "prometheus-client", "serial": "pyserial", "yaml": "pyyaml",
             "pymodbus": "pymodbus", "rich": "rich", "kivy": "kivy", "typing_extensions": "typing-extensions",
             "annotated_types": "annotated-types"}
    assert sorted(names[m] for m in imported & names.keys() if names[m] not in wanted) == []
