"""No traceback reaches a user. Every subcommand with bad arguments ends with exit 2 (usage or
config) or 1 (a run-time failure: unreachable broker, unwritable file, missing extras) and a
clear line on stderr, never "Traceback"; output piped into `head` ends quietly; `--debug`
shows the traceback for whoever wants it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.outbox import Outbox
from tests.ops.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
GOOD = str(ROOT / "examples" / "gate-lane-local.toml")
PDA = str(ROOT / "examples" / "pda-local.toml")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PORTEDGE_"):
            monkeypatch.delenv(name)


CLOSED = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens there

USAGE = [
    ["nosuchcommand"],
    ["check-config", "/nowhere/lane.toml"],
    ["run", "--config", "/nowhere/lane.toml"],
    ["run", "--config", GOOD, "--duration", "0"],
    ["run", "--config", GOOD, "--duration", "-5"],
    ["run", "--config", GOOD, "--log-format", "xml"],
    ["run", "--config", str(ROOT / "tests" / "configs" / "broken-gate-lane.toml")],
    ["pda", "--config", "/nowhere/pda.toml"],
    ["pda", "--config", GOOD],  # a gate config
    ["pda", "--config", PDA, "--size", "big"],
    ["pda", "--config", PDA, "--exit-after", "-1"],
    ["status", "--config", "/nowhere/lane.toml"],
    ["outbox", "peek", "--config", "/nowhere/lane.toml"],
    ["outbox", "peek", "-n", "many", "--config", GOOD],
    ["contract", "--format", "protobuf"],
    ["init", "crane", "/tmp/x"],
    ["demo", "--broker", "http://x"],
    ["demo", "--broker", "mqtt://127.0.0.1"],
    ["demo", "--duration", "0"],
    ["demo", "--duration", "-3"],
    ["demo", "--scenario", "nope.toml"],
    ["sim"],
    ["sim", "scenario", "--duration", "-1"],
    ["sim", "fleet", "--lanes", "-1"],
    ["sim", "fleet", "--pdas", "x"],
    ["sim", "fleet", "--duration", "0"],
    ["sim", "fleet", "--broker", "ws://127.0.0.1:1"],
    ["sim", "platform", "--broker", "ftp://127.0.0.1:21"],
    ["sim", "platform", "--broker", CLOSED, "--failure-rate", "2"],
    ["sim", "lane", "--broker", "http://x"],
    ["sim", "lane", "--broker", CLOSED, "--trucks-every", "-1"],
]

RUNTIME = [
    ["demo", "--broker", CLOSED, "--duration", "5", "--quiet"],
    ["sim", "platform", "--broker", CLOSED],
    ["contract", "--check", "/nowhere/asyncapi.yaml"],
    ["contract", "-o", "/proc/nowhere/asyncapi.yaml"],
]


def _ids(cases: list[list[str]]) -> list[str]:
    return [" ".join(a).replace(CLOSED, "CLOSED").replace(str(ROOT), ".")[:70] for a in cases]


def _no_traceback(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return captured.err


@pytest.mark.parametrize("argv", USAGE, ids=_ids(USAGE))
def test_usage_and_config_errors_exit_2_with_a_clear_line(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    assert code == 2
    err = _no_traceback(capsys)
    assert err.strip(), "says why on stderr"
    last = err.strip().splitlines()[-1]
    assert "error" in last or ": " in last


@pytest.mark.parametrize("argv", RUNTIME, ids=_ids(RUNTIME))
def test_runtime_failures_exit_1_with_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = _no_traceback(capsys).strip().splitlines()
    assert err and (err[-1].startswith("error: ") or "cannot" in err[-1])


def _portedge(*argv: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTEDGE_")}
    return subprocess.run([sys.executable, "-m", "agent", *argv], capture_output=True, text=True, timeout=60,
                          env={**base, **(env or {})}, **kwargs)


def test_output_piped_into_head_ends_quietly(tmp_path):
    db = tmp_path / "o.db"
    with Outbox(db, "lane-1") as outbox:
        for i in range(300):  # ~150 kB of output: more than a pipe holds, so the writer meets the closed end
            outbox.put("scan", {"data": f"{i:06d}" + "x" * 500})
    config = tmp_path / "lane.toml"
    config.write_text(f'[node]\nid = "lane-1"\nsite = "yt"\nrole = "gate"\n[gate]\nlane = "lane-1"\n'
                      f'[storage]\npath = "{db}"\n', encoding="utf-8")
    for argv in (["outbox", "peek", "-n", "300", "--config", str(config)],
                 ["outbox", "export", "-", "--config", str(config)], ["contract"]):
        done = subprocess.run(f"{sys.executable} -m agent {' '.join(argv)} | head -1", shell=True, text=True,
                              capture_output=True, timeout=60, cwd=ROOT)
        assert len(done.stdout.splitlines()) == 1
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


@pytest.fixture
def without_extras(tmp_path):
    """PYTHONPATH with a sitecustomize that hides the extras, as on a gate PC without them."""
    folder = tmp_path / "no-extras"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hidden:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('kivy', 'amqtt'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Hidden())\n", encoding="utf-8")
    return {"PYTHONPATH": str(folder)}


def test_missing_extras_say_what_to_install(without_extras, tmp_path):
    pda = _portedge("pda", "--config", PDA, "--offscreen", env=without_extras, cwd=tmp_path)
    assert pda.returncode == 1 and "Traceback" not in pda.stderr
    assert "install portedge[pda]" in pda.stderr
    demo = _portedge("demo", "--duration", "5", env=without_extras, cwd=tmp_path)
    assert demo.returncode == 1 and "Traceback" not in demo.stderr
    assert "install portedge[sim]" in demo.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "no-extras"]  # nothing started, nothing written
    assert _portedge("--help", env=without_extras).returncode == 0


def test_debug_shows_the_traceback():
    done = _portedge("--debug", "sim", "platform", "--broker", CLOSED)
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_version_flag():
    from agent import __version__

    done = _portedge("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"portedge {__version__}")
