"""[personnel]: a restricted-area lane's turnstile workflow (agent/personnel), optional.

The site key that hashes ID numbers is never in this file or the repository: the file named
by `site_key_file` holds it (64+ hex digits, e.g. `openssl rand -hex 32 > /etc/portedge/site.key`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PersonnelSection(BaseModel):
    """A personnel lane: which devices feed it, what it may send, its timeouts (seconds)."""

    model_config = ConfigDict(extra="forbid")

    lane: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    area: str = Field(min_length=1, max_length=64, description="the restricted area behind the turnstile")
    readers: list[str] = Field(default_factory=list, description="names of the ID card and badge readers of this lane")
    turnstile: str = Field(min_length=1, description="name of the turnstile device")
    site_key_file: Path = Field(description="file with the site's HMAC key (hex); never in the repository")
    send_name: bool = Field(default=False, description="the platform asked for names: send the card's name with requests")
    store_photos: bool = Field(default=False, description="keep card photos (opaque) on disk for photo_retention_s")
    photo_dir: Path = Field(default=Path("var/photos"))
    photo_retention_s: float = Field(default=7 * 86400.0, gt=0)
    verify_s: float = Field(default=2.0, gt=0, description="platform answer time before the allow-list decides")
    pass_s: float = Field(default=8.0, gt=0, description="unlocked, nobody passes: relock after this")
    tailgate_watch_s: float = Field(default=2.0, ge=0, description="after a passage, further bodies still count as tailgaters")
    decision_ttl_s: float = Field(default=2.0, gt=0, description="an unlock made from a decision expires after this")
    tick_s: float = Field(default=0.05, gt=0, le=1)
    reconcile_s: float = Field(default=30.0, gt=0, description="how often offline decisions are re-asked of the platform")
    state_path: Path | None = Field(default=None, description="SQLite: allow-list and reconcile queue (hashes only); "
                                    "unset = beside the outbox (lane-1.db -> lane-1.people.db)")

    @model_validator(mode="after")
    def _readers(self) -> PersonnelSection:
        if not self.readers:
            raise ValueError("a personnel lane needs at least one reader (readers = [...])")
        return self

