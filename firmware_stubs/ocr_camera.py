"""OCR camera firmware stub: posts plate and container-number reads to the lane PC as JSON
over HTTP (http.client, loopback only), as LPR/OCR cameras push them.

Misreads are deterministic with a seed: with probability `misread_rate` a read comes out
wrong the way OCR goes wrong (a look-alike character swapped, or one character dropped) and
with a lower confidence. `read(truth)` is pure (no I/O) so scenarios can use it alone.

Never: talk to anything but 127.0.0.1/localhost, or draw randomness from anything but `rng`.
"""

from __future__ import annotations

import http.client
import json
import random
from dataclasses import dataclass
from urllib.parse import urlsplit

#: characters OCR engines confuse with each other
LOOKALIKES = {
    "0": "OD", "O": "0DQ", "D": "0O", "Q": "O0", "1": "IL7", "I": "1L", "L": "1I", "7": "1",
    "2": "Z", "Z": "2", "5": "S", "S": "5", "8": "B", "B": "83", "3": "8", "6": "G", "G": "6",
    "U": "V", "V": "U", "M": "N", "N": "M", "C": "G", "E": "F", "F": "E", "H": "N", "T": "7",
}


@dataclass(frozen=True)
class OcrRead:
    text: str
    confidence: float
    misread: bool
    image_ref: str
    target: str
    position: str

    def payload(self) -> dict:
        return {"text": self.text, "confidence": self.confidence, "image_ref": self.image_ref,
                "target": self.target, "position": self.position}


class OcrCamera:
    def __init__(self, url: str, *, name: str = "cam", rng: random.Random | None = None, misread_rate: float = 0.0,
                 good_confidence: tuple[float, float] = (0.88, 0.99), bad_confidence: tuple[float, float] = (0.40, 0.75),
                 timeout_s: float = 5.0):
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"OCR camera stub posts to http://127.0.0.1 only, not {url!r}")
        if not 0.0 <= misread_rate <= 1.0:
            raise ValueError("misread_rate is a probability (0..1)")
        self.host, self.port, self.path = parts.hostname, parts.port or 80, parts.path or "/read"
        self.name = name
        self.rng = rng or random.Random(0)
        self.misread_rate = misread_rate
        self.good_confidence, self.bad_confidence = good_confidence, bad_confidence
        self.timeout_s = timeout_s
        self.frame = 0

    def read(self, truth: str, *, target: str = "plate", position: str = "front") -> OcrRead:
        """What the camera makes of `truth` this time."""
        self.frame += 1
        image_ref = f"{self.name}/{self.frame:06d}.jpg"
        if truth and self.rng.random() < self.misread_rate:
            text = self._garble(truth)
            return OcrRead(text, round(self.rng.uniform(*self.bad_confidence), 3), True, image_ref, target, position)
        return OcrRead(truth, round(self.rng.uniform(*self.good_confidence), 3), False, image_ref, target, position)

    def _garble(self, truth: str) -> str:
        i = self.rng.randrange(len(truth))
        swaps = LOOKALIKES.get(truth[i].upper())
        if swaps and (len(truth) == 1 or self.rng.random() < 0.7):
            return truth[:i] + self.rng.choice(swaps) + truth[i + 1 :]
        return truth[:i] + truth[i + 1 :]  # a character lost (dirt, glare)

    def post(self, read: OcrRead | dict | bytes, *, headers: dict[str, str] | None = None,
             method: str = "POST") -> tuple[int, dict]:
        """Send one read (or any payload, for fault tests); returns (status, JSON answer)."""
        if isinstance(read, OcrRead):
            body = json.dumps(read.payload()).encode()
        elif isinstance(read, dict):
            body = json.dumps(read).encode()
        else:
            body = read
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request(method, self.path, body=body,
                         headers={"Content-Type": "application/json", **(headers or {})})
            reply = conn.getresponse()
            raw = reply.read()
            return reply.status, json.loads(raw) if raw else {}
        finally:
            conn.close()

    def push(self, truth: str, *, target: str = "plate", position: str = "front") -> tuple[OcrRead, int, dict]:
        """See `truth`, post what was read; returns (read, status, answer)."""
        read = self.read(truth, target=target, position=position)
        status, answer = self.post(read)
        return read, status, answer
