"""The package an operator installs: `portedge --version`, a LICENSE matching pyproject, the
systemd unit (verified by systemd-analyze), `portedge init gate|pda DIR` writing a config that
`check-config` accepts and the unit's drop-in, and a wheel that carries all of it, installed
into a fresh venv and run from there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from agent.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "systemd" / "portedge@.service"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PORTEDGE_"):
            monkeypatch.delenv(name)


def test_license_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


@pytest.mark.parametrize("role", ["gate", "pda"])
def test_init_writes_a_config_check_config_accepts(role, tmp_path, capsys):
    folder = tmp_path / "etc"
    assert main(["init", role, str(folder), "--node", f"{role}-9", "--storage", str(tmp_path / "state")]) == 0
    config = folder / f"{role}-9.toml"
    assert main(["check-config", str(config)]) == 0
    assert f"{role}-9 ({role})" in capsys.readouterr().out
    dropin = (folder / f"portedge@{role}-9.service.d" / "devices.conf").read_text()
    assert dropin.splitlines()[3] == "[Service]"
    if role == "gate":
        assert "DeviceAllow=/dev/serial/by-id/" in dropin
    assert (folder / "portedge@.service").read_text() == UNIT.read_text()
    assert main(["init", role, str(folder), "--node", f"{role}-9"]) == 2  # never overwrites by default
    assert not (tmp_path / "state").exists()  # init and check-config create no database


def test_unit_is_a_notify_service_with_hardening():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "User=portedge", "StateDirectory=portedge", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "PrivateTmp=yes", "DevicePolicy=closed", "Restart=always",
                 "ExecStart=/opt/portedge/bin/portedge run --config /etc/portedge/%i.toml"):
        assert line in text, line


def test_unit_and_dropin_pass_systemd_analyze_verify(tmp_path, capsys):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    assert main(["init", "gate", str(tmp_path), "--node", "lane-1", "--storage", str(tmp_path / "state")]) == 0
    capsys.readouterr()
    # verify checks that ExecStart= exists: point it at this checkout's command
    instance = tmp_path / "portedge@lane-1.service"
    instance.write_text(UNIT.read_text().replace("/opt/portedge/bin/portedge", str(Path(sys.executable).parent / "portedge")))
    done = subprocess.run([analyze, "verify", "--man=no", str(instance)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if "portedge@" in line]
    assert done.returncode == 0 and complaints == [], done.stdout + done.stderr


def test_unit_verify_would_catch_a_mistake(tmp_path):
    """The check above can fail: a typo in the unit is reported."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    bad = tmp_path / "portedge@lane-1.service"
    bad.write_text(UNIT.read_text().replace("/opt/portedge/bin/portedge", str(Path(sys.executable).parent / "portedge"))
                   .replace("Type=notify", "Type=notfy"))
    done = subprocess.run([analyze, "verify", "--man=no", str(bad)], capture_output=True, text=True, timeout=60)
    assert "notfy" in done.stdout + done.stderr


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_inits_a_node(tmp_path):
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("portedge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert {"agent/templates/gate.toml", "agent/templates/pda.toml", "agent/templates/portedge@.service"} <= set(names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies come from this checkout's venv (no network in tests); portedge itself only from the wheel
    deps = subprocess.run([sys.executable, "-c", "import pydantic, os; print(os.path.dirname(os.path.dirname(pydantic.__file__)))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps-from-dev-venv.pth").write_text(deps + "\n")
    installed = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr

    portedge = venv / "bin" / "portedge"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTEDGE_", "PYTHON"))}
    where = subprocess.run([str(py), "-c", "import agent; print(agent.__file__)"], capture_output=True, text=True,
                           cwd=tmp_path, env=env, check=True).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not this checkout's
    version = subprocess.run([str(portedge), "--version"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("portedge ")
    for role in ("gate", "pda"):
        folder = tmp_path / f"etc-{role}"
        made = subprocess.run([str(portedge), "init", role, str(folder), "--storage", str(tmp_path / "state")],
                              capture_output=True, text=True, env=env, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        config = next(folder.glob("*.toml"))
        checked = subprocess.run([str(portedge), "check-config", str(config)], capture_output=True, text=True,
                                 env=env, cwd=tmp_path)
        assert checked.returncode == 0 and checked.stdout.startswith("ok: "), checked.stderr
