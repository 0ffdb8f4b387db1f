"""Right/wrong tones, where the device can play sound. A PDA without audio (or this test
machine) stays silent and says so once in the log; a missing sound never stops a scan.

The tones are written as small WAV files at start, so no binary ships in the repository.
"""

from __future__ import annotations

import logging
import math
import struct
import wave
from pathlib import Path

log = logging.getLogger(__name__)

RATE = 16000


def write_tone(path: Path, freqs: tuple[float, ...], each_s: float = 0.12, volume: float = 0.6) -> Path:
    """A short beep: one or more square-ish tones one after another, 16-bit mono."""
    frames = bytearray()
    for freq in freqs:
        for i in range(int(RATE * each_s)):
            # freq 0 is a pause between the buzzes of the wrong tone
            sample = 0.0 if freq == 0 else volume * (1 if math.sin(2 * math.pi * freq * i / RATE) >= 0 else -1)
            frames += struct.pack("<h", int(sample * 32767 * 0.5))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return path


class Beeper:
    """`right()` is one high beep, `wrong()` a low double buzz (told apart without looking)."""

    def __init__(self, folder: Path):
        self._sounds = {}
        try:
            from kivy.core.audio import SoundLoader

            folder.mkdir(parents=True, exist_ok=True)
            for name, freqs in (("right", (1760.0,)), ("wrong", (220.0, 0.0, 220.0))):
                sound = SoundLoader.load(str(write_tone(folder / f"{name}.wav", freqs)))
                if sound is not None:
                    self._sounds[name] = sound
        except Exception as err:  # noqa: BLE001 - audio is optional; any failure means silence
            log.info("no sound on this device: %s", err)
        if not self._sounds:
            log.info("no sound on this device: scan answers are shown only")

    @property
    def available(self) -> bool:
        return bool(self._sounds)

    def play(self, ok: bool) -> None:
        sound = self._sounds.get("right" if ok else "wrong")
        if sound is not None:
            try:
                sound.stop()
                sound.play()
            except Exception as err:  # noqa: BLE001 - a failed beep must never block a scan
                log.debug("beep failed: %s", err)
