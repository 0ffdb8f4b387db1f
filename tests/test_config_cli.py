"""`portedge check-config`: good configs pass with a summary, bad ones list every problem; every
example in examples/ checks ok as shipped, and the site templates (examples/site/) fail only
for the site's own files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SITE = EXAMPLES / "site"
BROKEN = ROOT / "tests" / "configs" / "broken-gate-lane.toml"
PORTEDGE = ROOT / ".venv" / "bin" / "portedge"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Overrides from the developer's shell must not change what these tests see."""
    for name in list(os.environ):
        if name.startswith("PORTEDGE_"):
            monkeypatch.delenv(name)


def test_gate_lane_local_example_is_ok(capsys):
    assert main(["check-config", str(EXAMPLES / "gate-lane-local.toml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ")
    assert "node     lane-1 (gate) at site yantian" in out
    assert "mqtt://127.0.0.1:1883 (MQTT 5)" in out
    assert "scale-1" in out and "toledo" in out and "/dev/serial/by-id/usb-Prolific" in out
    assert "cam-plate" in out and "listen 127.0.0.1:8081" in out
    # a relative storage path is relative to the config's folder, not the shell's
    assert f"storage  {EXAMPLES / 'var' / 'lane-1.db'}" in out


def test_every_example_checks_ok_as_shipped(capsys):
    """What an operator copies from the README works as it is (no site files needed)."""
    shipped = sorted(p for p in EXAMPLES.rglob("*.toml") if SITE not in p.parents and "var" not in p.parts)
    assert {p.name for p in shipped} >= {"gate-lane-local.toml", "pda-local.toml"}
    for path in shipped:
        assert main(["check-config", str(path)]) == 0, capsys.readouterr().err
        assert capsys.readouterr().out.startswith("ok: "), path
    others = {p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*") if p.is_file() and "var" not in p.parts}
    assert {str(p) for p in others if p.suffix != ".toml"} == {"site/README.md"}  # nothing else to explain


def test_site_templates_fail_only_for_the_site_files(capsys):
    templates = sorted(SITE.glob("*.toml"))
    assert {p.name for p in templates} == {"gate-lane.toml", "pda.toml"}
    assert "site's files" in (SITE / "README.md").read_text(encoding="utf-8")
    for path in templates:
        assert path.read_text(encoding="utf-8").startswith("# TEMPLATE for a deployed site")
        assert main(["check-config", str(path)]) == 2
        assert capsys.readouterr().err == f"{path}: broker.ca_file: /etc/portedge/ca.pem does not exist\n"


def test_site_templates_are_ok_once_the_site_files_exist(tmp_path, monkeypatch, capsys):
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    monkeypatch.setenv("PORTEDGE_BROKER__CA_FILE", str(tmp_path / "ca.pem"))
    for path in sorted(SITE.glob("*.toml")):
        assert main(["check-config", str(path)]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "mqtts://broker.port.example:8883 (MQTT 5, TLS)" in out
        assert "change-me" not in out  # the broker password never reaches the screen


def test_pda_local_example_is_ok(capsys):
    assert main(["check-config", str(EXAMPLES / "pda-local.toml")]) == 0
    out = capsys.readouterr().out
    assert "node     pda-07 (pda) at site baiyun-cargo" in out
    assert "imager" in out and "wedge" in out


def test_broken_example_lists_every_problem(capsys):
    path = str(BROKEN)
    assert main(["check-config", path]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    keys = [line.removeprefix(f"{path}: ").split(": ", 1)[0] for line in lines]
    assert keys == ["node.id", "broker.url", "devices[1].kind", "devices[2].unit_id"]
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "required key is missing" in lines[0]
    assert "mqtt:// or mqtts://" in lines[1]
    assert "unknown device kind 'rfid_reader'" in lines[2] and "gate_io" in lines[2]
    assert "valid integer" in lines[3]


def test_environment_override_applies(monkeypatch, capsys):
    monkeypatch.setenv("PORTEDGE_BROKER__URL", "mqtt://lane:secret@127.0.0.1:1884")
    assert main(["check-config", str(EXAMPLES / "gate-lane-local.toml")]) == 0
    out = capsys.readouterr().out
    assert "mqtt://lane:***@127.0.0.1:1884 (MQTT 5)" in out
    assert "secret" not in out


def test_environment_override_can_break_a_good_file(monkeypatch, capsys):
    monkeypatch.setenv("PORTEDGE_BROKER__URL", "mqtt://127.0.0.1:0")
    assert main(["check-config", str(EXAMPLES / "gate-lane-local.toml")]) == 2
    assert "broker.url: broker URL port is not a number 1-65535" in capsys.readouterr().err


def test_environment_override_fixes_a_missing_key(monkeypatch, tmp_path, capsys):
    config = tmp_path / "lane.toml"
    config.write_text('[node]\nsite = "yantian"\nrole = "gate"\n[gate]\nlane = "lane-9"\n', encoding="utf-8")
    assert main(["check-config", str(config)]) == 2
    capsys.readouterr()
    monkeypatch.setenv("PORTEDGE_NODE__ID", "lane-9")
    assert main(["check-config", str(config)]) == 0
    assert "lane-9 (gate)" in capsys.readouterr().out


def test_toml_syntax_error_names_the_file(tmp_path, capsys):
    config = tmp_path / "typo.toml"
    config.write_text('[node]\nid = "lane-1"\nsite = yantian\n', encoding="utf-8")
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{config}: (toml): ")
    assert "line 3" in err


def test_missing_file_is_reported(tmp_path, capsys):
    assert main(["check-config", str(tmp_path / "nowhere.toml")]) == 2
    assert f"{tmp_path / 'nowhere.toml'}: (file): No such file" in capsys.readouterr().err


def test_missing_device_kind_points_at_kind(tmp_path, capsys):
    config = tmp_path / "lane.toml"
    config.write_text('[node]\nid = "a"\nsite = "b"\nrole = "gate"\n[[devices]]\nname = "x"\n', encoding="utf-8")
    assert main(["check-config", str(config)]) == 2
    assert "devices[0].kind: device kind is missing" in capsys.readouterr().err


def test_installed_command_runs(tmp_path):
    if not PORTEDGE.exists():
        pytest.fail(f"{PORTEDGE} is missing: install the project into .venv (./dev setup)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEDGE_")}
    good = subprocess.run([str(PORTEDGE), "check-config", str(EXAMPLES / "pda-local.toml")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("ok: ")
    bad = subprocess.run([sys.executable, "-m", "agent", "check-config", str(BROKEN)],
                         capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 4


@pytest.mark.parametrize(("section", "suffix"), [("gate", "gate"), ("personnel", "people")])
def test_a_state_path_that_used_to_mean_beside_the_outbox_refuses_to_start(tmp_path, capsys, section, suffix):
    """Before [gate]/[personnel] state_path became optional, `var/gate.db` (`var/people.db`)
    written out meant the file beside the outbox. On upgrade that file must not be silently
    left behind for a new, empty one (journal drafts, reconcile queue, permits): run and
    check-config both refuse, naming the key and both files."""
    (tmp_path / "var").mkdir()
    kept = tmp_path / "var" / f"lane-1.{suffix}.db"
    kept.write_bytes(b"")  # what the old default made beside the outbox
    key = tmp_path / "site.key"
    key.write_text(os.urandom(32).hex())
    if section == "gate":
        lane = '[gate]\nlane = "lane-1"\nstate_path = "var/gate.db"\n'
    else:
        lane = ('[personnel]\nlane = "p-1"\narea = "apron"\nreaders = ["id-1"]\nturnstile = "ts-1"\n'
                f'site_key_file = "{key}"\nstate_path = "var/people.db"\n'
                '[[devices]]\nkind = "idcard_reader"\nname = "id-1"\nport = "loop://"\n'
                '[[devices]]\nkind = "turnstile"\nname = "ts-1"\nport = "socket://127.0.0.1:1"\n')
    config = tmp_path / "lane.toml"
    config.write_text('[node]\nid = "lane-1"\nsite = "s"\nrole = "gate"\n[broker]\nurl = "mqtt://127.0.0.1:1"\n'
                      '[storage]\npath = "var/lane-1.db"\n' + lane, encoding="utf-8")
    for command in (["check-config", str(config)], ["run", "--config", str(config)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"{config}: {section}.state_path: ")
        assert str(tmp_path / "var" / f"{suffix}.db") in err and str(kept) in err
    assert not (tmp_path / "var" / f"{suffix}.db").exists()  # nothing was opened
    # moving the file where the key says (or removing the key) is the way on
    kept.rename(tmp_path / "var" / f"{suffix}.db")
    assert main(["check-config", str(config)]) == 0
