"""What of a person may leave the reader: keyed hashes and masked forms, never clear numbers.

An ID number is sensitive personal information (PIPL). The edge keeps it in memory for the
checks of one presentation, then only two derived forms exist:
  - `person_key`: HMAC-SHA256 under the site key, over "<credential>:<identifier>". Matching
    (allow-lists, the platform's registry) works on it; without the key it cannot be reversed
    or recomputed from a guessed number. The key is provisioned per site in a file named by
    the config (`[personnel] site_key_file`), never in the repository;
  - `masked`: the area code and the last four (110105********002X) for displays and logs.

Never: log, store or send a clear ID number or a card's full text; build a key from anything
but the site key.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from agent.codecs.sam import mask_id
from agent.errors import ConfigError

MIN_KEY_BYTES = 32

__all__ = ["SiteKey", "mask_id", "mask_badge"]


class SiteKey:
    def __init__(self, key: bytes):
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a site key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "SiteKey(<secret>)"

    @classmethod
    def load(cls, path: Path, source: str = "(config)") -> SiteKey:
        """The key file holds hex (64+ digits), as `openssl rand -hex 32` writes it."""
        try:
            text = Path(path).read_text(encoding="ascii").strip()
            return cls(bytes.fromhex(text))
        except OSError as err:
            raise ConfigError(source, [("personnel.site_key_file", f"cannot read {path}: {err.strerror}")]) from None
        except ValueError:
            raise ConfigError(source, [("personnel.site_key_file",
                                        f"{path} must hold at least {MIN_KEY_BYTES * 2} hex digits")]) from None

    def person_key(self, credential: str, identifier: str) -> str:
        message = f"{credential}:{identifier.strip().upper()}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def mask_badge(badge_id: str) -> str:
    """Staff badges: the facility code and the last two digits of the card number."""
    facility, _, card = badge_id.partition("-")
    return f"{facility}-{'*' * max(0, len(card) - 2)}{card[-2:]}"
