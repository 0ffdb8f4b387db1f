"""Shared pieces of the personnel tests: settings, a generated site key, cards and identities."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from agent.codecs import sam
from agent.config.personnel import PersonnelSection
from agent.personnel import identity
from agent.personnel.privacy import SiteKey
from firmware_stubs.idcard_reader import SAMPLE_CARD

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
VALID = SAMPLE_CARD  # 11010519491231002X, long-term
DATED = SAMPLE_CARD | {"id_number": "110105199001010010", "valid_from": "20200101", "valid_until": "20300101"}
EXPIRED = SAMPLE_CARD | {"id_number": "110105198003070039", "valid_from": "20100101", "valid_until": "20200101"}
BAD_CHECK = SAMPLE_CARD | {"id_number": "110105194912310021"}
CLEAR_NUMBERS = [c["id_number"] for c in (VALID, DATED, EXPIRED, BAD_CHECK)]


def key_file(folder: Path) -> Path:
    """A fresh site key for this test only (never a fixed one in the repository)."""
    path = folder / "site.key"
    path.write_text(os.urandom(32).hex())
    return path


def settings(folder: Path, **kw) -> PersonnelSection:
    base = dict(lane="p-1", area="apron", readers=["id-1", "badge-1"], turnstile="ts-1",
                site_key_file=key_file(folder), state_path=folder / "people.db", photo_dir=folder / "photos")
    return PersonnelSection(**{**base, **kw})


def card(fields: dict[str, str]) -> sam.CardRead:
    (frame,) = sam.SamDecoder().feed(sam.read_reply(sam.encode_text(fields), bytes(1024)))
    return sam.parse_card(frame)


def who(fields: dict[str, str], key: SiteKey, **kw):
    return identity.from_card(card(fields), key, **kw)
