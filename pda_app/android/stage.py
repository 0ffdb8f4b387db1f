"""`python -m pda_app.android.stage DIR`: copy what the Android build needs into DIR (the agent,
the app with its font and licence, main.py, buildozer.spec), so buildozer packs only that.

A starting point, not built in CI (see buildozer.spec). Must never write outside DIR.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGES = ("agent", "pda_app")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "android")


def stage(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for package in PACKAGES:
        target = out / package
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / package, target, ignore=SKIP)
        made.append(target)
    for name in ("main.py", "buildozer.spec"):
        shutil.copy2(HERE / name, out / name)
        made.append(out / name)
    return made


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pda_app.android.stage DIR", file=sys.stderr)
        return 2
    for path in stage(Path(args[0])):
        print(path)
    print(f"next: cd {args[0]} && buildozer android debug   (not built in CI; see docs/pda.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
