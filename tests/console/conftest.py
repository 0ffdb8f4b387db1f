"""Fixtures of the console tests: Debian's chromium driven by Playwright (never a downloaded
browser); the browser tests skip, saying why, only where chromium or Playwright is absent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PORTEDGE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
#: set to a folder (e.g. docs/console) to keep a screenshot of each state the test passes
SHOTS = os.environ.get("PORTEDGE_CONSOLE_SHOTS")


@pytest.fixture
def browser_needed():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM}: install Debian's 'chromium' package (./dev test does)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright's Python package is not installed (pip install -e '.[test]')")
    return CHROMIUM


async def launch(playwright):
    return await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)


async def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


from ..gate_e2e.conftest import lane_run  # noqa: E402,F401  (the real lane these tests watch)
