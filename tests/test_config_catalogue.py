"""The broken-config catalogue (tests/configs/broken/): `check-config` and `run` go through one
validation path, so for every file they print the same `FILE: key.path: reason` lines, exit 2,
and `run` creates nothing on disk (no storage folder, no database) for a config that failed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main

CATALOGUE = Path(__file__).parent / "configs" / "broken"
FILES = sorted(CATALOGUE.glob("*.toml"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PORTEDGE_"):
            monkeypatch.delenv(name)


def expected_lines(path: Path, folder: Path, shown_as: str) -> list[str]:
    lines = [line.removeprefix(b"\xef\xbb\xbf") for line in path.read_bytes().split(b"\n")]
    expects = [line.decode("ascii") for line in lines if line.startswith(b"# expect: ")]
    return [f"{shown_as}: " + e.split("# expect: ", 1)[1].replace("FOLDER", str(folder)) for e in expects]


def test_the_catalogue_is_big_enough():
    assert len(FILES) >= 15


@pytest.mark.parametrize("source", FILES, ids=[f.stem for f in FILES])
def test_check_config_and_run_agree(source, tmp_path, capsys):
    config = tmp_path / source.name
    shutil.copyfile(source, config)
    want = expected_lines(source, tmp_path, str(config))
    assert want, f"{source.name} has no '# expect:' line"
    before = sorted(p.name for p in tmp_path.iterdir())

    assert main(["check-config", str(config)]) == 2
    checked = capsys.readouterr()
    assert checked.out == ""
    assert checked.err.splitlines() == want

    assert main(["run", "--config", str(config)]) == 2
    ran = capsys.readouterr()
    assert ran.err.splitlines() == want
    assert "Traceback" not in ran.out + ran.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created before validation


def test_installed_command_agrees_too(tmp_path):
    """One file through real processes: the same lines, exit 2, from another working folder."""
    config = tmp_path / "gbk-comment.toml"
    shutil.copyfile(CATALOGUE / config.name, config)
    want = expected_lines(config, tmp_path, str(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEDGE_")}
    for argv in (["check-config", str(config)], ["run", "--config", str(config)]):
        done = subprocess.run([sys.executable, "-m", "agent", *argv], capture_output=True, text=True,
                              env=env, timeout=60, cwd="/")
        assert (done.returncode, done.stderr.splitlines()) == (2, want), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [config.name]


def test_a_private_key_others_can_read_is_a_warning_not_an_error(tmp_path, capsys):
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("ca.pem", "lane-1.pem", "lane-1.key"):
        (certs / name).write_text("-----BEGIN-----\n", encoding="utf-8")
    (certs / "lane-1.key").chmod(0o644)
    config = tmp_path / "lane.toml"
    config.write_text('[node]\nid = "lane-1"\nsite = "yantian"\nrole = "gate"\n[gate]\nlane = "lane-1"\n'
                      '[broker]\nurl = "mqtts://127.0.0.1:8883"\nca_file = "certs/ca.pem"\n'
                      'cert_file = "certs/lane-1.pem"\nkey_file = "certs/lane-1.key"\n', encoding="utf-8")
    assert main(["check-config", str(config)]) == 0
    err = capsys.readouterr().err
    assert err == (f"{config}: broker.key_file: warning: {certs / 'lane-1.key'} is readable by other users "
                   f"(mode 644); chmod 600 it\n")
    (certs / "lane-1.key").chmod(0o600)
    assert main(["check-config", str(config)]) == 0
    assert capsys.readouterr().err == ""
