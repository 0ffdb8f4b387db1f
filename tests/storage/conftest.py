"""Storage fault fixtures: a really full disk (a tiny tmpfs, root only) and a process that is
not the file's owner (root drops to `nobody`; anyone else meets mode 000)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.link.conftest import collector_factory  # noqa: F401 - the platform's side, for the retained state

NOBODY = 65534


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 kB tmpfs folder (needs root and mount); skips where that is not available, the
    max_page_count tests cover the same path there."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tiny tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Write a filler file until the disk says ENOSPC."""
    fd = os.open(folder / "filler", os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def as_other_user(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run Python `code` in a process that is not the files' owner: as root, as nobody via
    setpriv (root ignores file modes); otherwise the caller's mode 000 is enough."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv (util-linux) to drop root")
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def shared_folder():
    """A folder the other user may write in (so a move-aside would be possible), under a
    parent it may traverse; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="portedge-storage-"))
    try:
        base.chmod(0o711)
        folder = base / "data"
        folder.mkdir()
        if os.geteuid() == 0:
            os.chown(folder, NOBODY, NOBODY)
        yield folder
    finally:
        shutil.rmtree(base, ignore_errors=True)
