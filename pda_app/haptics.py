"""The vibration hook: a right scan is one short pulse, a wrong one a long double buzz, so a
driver with the handheld on a strap feels the answer without looking or hearing.

On Android the app calls the system vibrator through pyjnius (present in a python-for-android
build); anywhere else there is no motor and the app says so once in the log. A vendor SDK
(or a test) passes its own object with the same `pulse(pattern_ms)` method to `PdaApp`.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)

RIGHT_MS = (60,)  # one short pulse
WRONG_MS = (250, 120, 250)  # buzz, pause, buzz


class Vibrator(Protocol):
    def pulse(self, pattern_ms: tuple[int, ...]) -> None: ...


class NoVibrator:
    """No motor (a desktop, this test machine): silent, said once."""

    def __init__(self) -> None:
        log.info("no vibrator on this device: scan answers are shown (and sounded) only")

    def pulse(self, pattern_ms: tuple[int, ...]) -> None:
        return None


class AndroidVibrator:
    """android.os.Vibrator through pyjnius: a pattern of off/on times, played once."""

    def __init__(self) -> None:
        from jnius import autoclass  # only in an Android build

        activity = autoclass("org.kivy.android.PythonActivity").mActivity
        context = autoclass("android.content.Context")
        self._vibrator = activity.getSystemService(context.VIBRATOR_SERVICE)

    def pulse(self, pattern_ms: tuple[int, ...]) -> None:
        try:
            self._vibrator.vibrate([0, *pattern_ms], -1)
        except Exception as err:  # noqa: BLE001 - a failed buzz must never block a scan
            log.debug("vibration failed: %s", err)


def device_vibrator() -> Vibrator:
    try:
        return AndroidVibrator()
    except Exception:  # noqa: BLE001 - not Android (no jnius) or no vibrator service
        return NoVibrator()


def pattern(ok: bool) -> tuple[int, ...]:
    return RIGHT_MS if ok else WRONG_MS
