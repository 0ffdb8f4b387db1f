"""Hash-chained audit entries, sans-I/O: seal an entry onto the chain, check a chain.

Theory of operation. Each entry is one JSON object on one line. Its `hash` is SHA-256 over
the previous entry's hash and the entry's own canonical JSON (sorted keys, no spaces, UTF-8,
without `hash`); `prev` repeats the previous hash and `seq` counts from 1. Rewriting any
entry changes its hash, so every later `prev` stops matching unless the whole tail is
rewritten — and the chain head (seq, hash) leaves the edge with every heartbeat, so a
rewritten tail no longer matches what the platform saw.

`verify_lines` reads line by line and names the first entry that breaks: not JSON, a field
missing, a seq out of order, a `prev` that is not the previous hash, or a hash that does not
match the content. One flipped byte anywhere breaks the entry it is in.

Never: do I/O here, or accept an entry whose hash was computed by anyone but `seal`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

GENESIS = "0" * 64
FIELDS = ("seq", "ts", "lane", "kind", "actor", "what", "detail", "prev", "hash")


@dataclass(frozen=True)
class Entry:
    seq: int
    ts: str  # ISO 8601, UTC
    lane: str
    kind: str  # staff | decision | barrier | mode | command | transaction | log
    actor: str  # a staff badge, "platform", "offline", "lane"
    what: str
    detail: dict[str, Any]
    prev: str
    hash: str

    def line(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _digest(prev: str, content: dict[str, Any]) -> str:
    body = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(prev.encode() + b"\n" + body).hexdigest()


def seal(seq: int, ts: str, lane: str, kind: str, actor: str, what: str, detail: dict[str, Any], prev: str) -> Entry:
    content = {"seq": seq, "ts": ts, "lane": lane, "kind": kind, "actor": actor, "what": what,
               "detail": detail, "prev": prev}
    return Entry(**content, hash=_digest(prev, content))


@dataclass
class Verdict:
    """What `verify_lines` found. `broken_at` is the 1-based line of the first broken entry."""

    entries: int = 0
    head: tuple[int, str] = (0, GENESIS)
    broken_at: int | None = None
    reason: str = ""
    first_ts: str | None = None
    last_ts: str | None = None
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def check_entry(raw: bytes, seq: int, prev: str) -> tuple[Entry | None, str]:
    """One line against the chain so far: (entry, "") or (None, why it is broken)."""
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None, "not a JSON entry"
    if not isinstance(obj, dict) or set(obj) != set(FIELDS):
        return None, "not an audit entry (fields missing or extra)"
    if not isinstance(obj["detail"], dict) or not all(isinstance(obj[k], str) for k in FIELDS if k not in ("seq", "detail")):
        return None, "a field has the wrong type"
    if type(obj["seq"]) is not int or obj["seq"] != seq:
        return None, f"seq {obj['seq']!r} where {seq} was due (an entry removed, added or moved)"
    if obj["prev"] != prev:
        return None, "prev is not the hash of the entry before (history rewritten)"
    content = {k: obj[k] for k in FIELDS if k != "hash"}
    if _digest(prev, content) != obj["hash"]:
        return None, "hash does not match the entry's content (entry altered)"
    return Entry(**obj), ""


def verify_lines(lines: Iterable[bytes]) -> Verdict:
    """Check a whole log; stops at the first broken entry."""
    verdict = Verdict()
    seq, prev = 1, GENESIS
    for number, raw in enumerate(lines, start=1):
        if not raw.endswith(b"\n"):
            verdict.broken_at, verdict.reason = number, "last line is incomplete (torn write)"
            return verdict
        entry, why = check_entry(raw, seq, prev)
        if entry is None:
            verdict.broken_at, verdict.reason = number, why
            return verdict
        verdict.entries = seq
        verdict.head = (seq, entry.hash)
        verdict.first_ts = verdict.first_ts or entry.ts
        verdict.last_ts = entry.ts
        verdict.kinds[entry.kind] = verdict.kinds.get(entry.kind, 0) + 1
        seq, prev = seq + 1, entry.hash
    return verdict
