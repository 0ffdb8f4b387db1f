"""The Android entry point (python-for-android runs main.py): start the PDA app on the
handheld's config. Copied into the build folder by pda_app/android/stage.py; not used on Linux.

The config is provisioned onto the device (MDM push or adb) at $PORTEDGE_CONFIG, default
<app storage>/portedge/pda.toml; relative storage paths in it resolve beside it.
"""

import os
import sys
from pathlib import Path


def config_path() -> Path:
    if os.environ.get("PORTEDGE_CONFIG"):
        return Path(os.environ["PORTEDGE_CONFIG"])
    try:
        from android.storage import app_storage_path  # python-for-android

        base = Path(app_storage_path())
    except ImportError:
        base = Path.home()
    return base / "portedge" / "pda.toml"


if __name__ == "__main__":
    from agent.cli.main import main

    sys.exit(main(["pda", "--config", str(config_path())]))
