"""pyright (basic mode, configured in pyproject.toml) finds no error in agent/.

`./dev test` installs Debian's nodejs when absent; pyright's wheel runs on it and fetches
nothing. Without node (a bare `pytest` on a machine that lacks it) the check is skipped and
says why; `./dev types` runs the same check alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyright_is_clean_on_the_agent():
    pyright = Path(sys.executable).with_name("pyright")
    if not pyright.exists():
        pytest.skip("pyright is not installed in this environment (the [test] extra has it)")
    if shutil.which("node") is None:
        pytest.skip("node is missing (Debian's nodejs): ./dev test installs it")
    done = subprocess.run([str(pyright), "--outputjson", "agent"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    report = json.loads(done.stdout)
    problems = [f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
                for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert problems == [], "pyright errors:\n" + "\n".join(problems)
    assert report["summary"]["filesAnalyzed"] > 100  # it read the agent, not an empty folder
