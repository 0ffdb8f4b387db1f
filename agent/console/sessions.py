"""Staff logins for the console: badge + PIN checked against scrypt hashes (as the PDA caches
them, agent.tasks.session.pin_hash), sessions that expire, a CSRF token per session, and a
rate limit on failed logins per badge and per client address.

A PIN hash is written `scrypt:N:8:1$<salt hex>$<hash hex>`; `portedge staff-pin` makes one.
Sessions live in memory only (a restart logs everyone out) and their number is bounded: the
oldest goes when a new one would exceed it.

Never: keep or log a PIN, compare secrets other than in constant time, or let a failed login
say whether the badge exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass

from agent.clock import Clock
from agent.tasks.session import pin_hash

SCHEME = "scrypt"


def make_pin_hash(badge: str, pin: str, n: int = 2**14, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    return f"{SCHEME}:{n}:8:1${salt.hex()}${pin_hash(pin, salt, badge, n).hex()}"


def check_pin(badge: str, pin: str, stored: str) -> bool:
    try:
        scheme, salt_hex, hash_hex = stored.split("$")
        name, n, r, p = scheme.split(":")
        if name != SCHEME or (r, p) != ("8", "1"):
            return False
        digest = pin_hash(pin, bytes.fromhex(salt_hex), badge, int(n))
    except ValueError:
        return False
    return hmac.compare_digest(digest, bytes.fromhex(hash_hex))


def parse_pin_hash(stored: str) -> str | None:
    """None when well formed, else why not (for the config check)."""
    try:
        scheme, salt_hex, hash_hex = stored.split("$")
        name, n, r, p = scheme.split(":")
        bytes.fromhex(salt_hex)
        bytes.fromhex(hash_hex)
        if name != SCHEME or (r, p) != ("8", "1") or int(n) < 2**10 or int(n) & (int(n) - 1):
            raise ValueError
    except ValueError:
        return "not a PIN hash: make one with 'portedge staff-pin --badge BADGE'"
    return None


@dataclass
class Session:
    token: str
    csrf: str
    badge: str
    name: str
    started: float
    seen: float


class Sessions:
    def __init__(self, clock: Clock, *, idle_s: float, max_s: float, max_sessions: int = 32,
                 max_failures: int = 5, window_s: float = 300.0):
        self.clock, self.idle_s, self.max_s, self.max_sessions = clock, idle_s, max_s, max_sessions
        self.max_failures, self.window_s = max_failures, window_s
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # key: sha256 of the token
        self._failures: dict[str, deque[float]] = {}

    # -- login rate limit -----------------------------------------------------------------
    def wait_s(self, *keys: str) -> float:
        """Seconds until a login may be tried again for any of `keys` (0 = now)."""
        now, wait = self.clock.monotonic(), 0.0
        for key in keys:
            failures = self._failures.get(key)
            if failures is None:
                continue
            while failures and now - failures[0] >= self.window_s:
                failures.popleft()
            if len(failures) >= self.max_failures:
                wait = max(wait, self.window_s - (now - failures[0]))
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock.monotonic()
        if len(self._failures) > 4096:  # bounded: forget the quietest keys
            for key in [k for k, v in self._failures.items() if not v or now - v[-1] >= self.window_s]:
                del self._failures[key]
            while len(self._failures) > 4096:
                self._failures.pop(next(iter(self._failures)))
        for key in keys:
            failures = self._failures.setdefault(key, deque(maxlen=self.max_failures))
            failures.append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    # -- sessions -------------------------------------------------------------------------
    def open(self, badge: str, name: str) -> Session:
        now = self.clock.monotonic()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), badge, name, now, now)
        self._sessions[_key(session.token)] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie's token, refreshed; None when unknown or expired."""
        if not token:
            return None
        key = _key(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self.clock.monotonic()
        if now - session.seen >= self.idle_s or now - session.started >= self.max_s:
            del self._sessions[key]
            return None
        session.seen = now
        self._sessions.move_to_end(key)
        return session

    def close(self, token: str | None) -> None:
        if token:
            self._sessions.pop(_key(token), None)

    @staticmethod
    def csrf_ok(session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(session.csrf.encode(), (presented or "").encode())


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
