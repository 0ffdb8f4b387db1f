"""The driver's session on a PDA: badge + PIN checked by the platform, or offline against a
salted PIN hash cached from an earlier platform-verified login.

Rules:
- Online first: the platform's answer wins. A refusal also deletes the cached hash (the PIN
  was changed or the badge withdrawn), so a stale PIN cannot be used offline afterwards.
- Offline (no requester, timeout, link down, platform error): only a badge verified on this PDA
  within `offline_login_s`, with the same PIN, and fewer than `offline_max_failures` wrong
  offline PINs since its last online login.
- Never store or log a PIN in clear. The cache holds scrypt(PIN, 16 random bytes + badge).
  A 4-digit PIN space is small: if the SQLite file is stolen the hash falls to brute force,
  so the expiry, not the hash, is what limits exposure.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from pydantic import ValidationError

from agent.clock import Clock
from agent.config.model import PdaSection
from agent.contract.tasks import DriverLogin, DriverLoginAnswer
from agent.errors import PortEdgeError
from agent.interfaces import Requester
from agent.tasks.store import CachedDriver, TaskStore
from agent.tasks.views import DriverView, LoginResult

log = logging.getLogger(__name__)


def pin_hash(pin: str, salt: bytes, badge: str, n: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt + badge.encode(), n=n, r=8, p=1, dklen=32, maxmem=256 * n * 8 + 2**20)


class DriverSession:
    def __init__(self, store: TaskStore, requester: Requester | None, clock: Clock, config: PdaSection):
        self._store = store
        self._requester = requester
        self._clock = clock
        self._config = config
        self.counters: dict[str, int] = {"online": 0, "offline": 0, "refused": 0, "platform_unreachable": 0}

    @property
    def driver(self) -> DriverView | None:
        session = self._store.session()
        if session.badge is None or session.since is None:
            return None
        return DriverView(session.badge, session.name or "", session.since, session.offline)

    async def login(self, badge: str, pin: str) -> LoginResult:
        badge = badge.strip()
        try:
            request = DriverLogin(badge=badge, pin=pin)
        except ValidationError:
            self.counters["refused"] += 1
            return LoginResult.of(False, "login_refused")
        answer = await self._ask_platform(request)
        if answer is None:
            return await self._offline(badge, pin)
        if not answer.ok:
            await self._store.forget_driver(badge)
            self.counters["refused"] += 1
            return LoginResult.of(False, "login_refused")
        await self._remember(badge, answer.name, pin)
        self.counters["online"] += 1
        return await self._start(badge, answer.name, offline=False)

    async def logout(self) -> None:
        await self._store.set_session(None, None, None, False)

    async def _ask_platform(self, request: DriverLogin) -> DriverLoginAnswer | None:
        """The platform's verdict, or None when it cannot be had now."""
        if self._requester is None:
            return None
        try:
            response = await self._requester.request("driver_login", request, self._config.login_timeout_s)
        except (TimeoutError, ConnectionError, PortEdgeError) as err:
            log.info("driver login: platform unreachable (%s), trying the offline cache", err)
            self.counters["platform_unreachable"] += 1
            return None
        if not response.ok or response.body is None:
            self.counters["platform_unreachable"] += 1
            return None
        body = response.body
        try:
            return body if isinstance(body, DriverLoginAnswer) else DriverLoginAnswer.model_validate(
                body.model_dump() if hasattr(body, "model_dump") else body)
        except ValidationError:
            log.warning("driver login: malformed answer from the platform")
            self.counters["platform_unreachable"] += 1
            return None

    async def _remember(self, badge: str, name: str, pin: str) -> None:
        now = self._clock.now()
        salt = secrets.token_bytes(16)
        n = self._config.pin_hash_n
        await self._store.cache_driver(CachedDriver(
            badge, name, salt, pin_hash(pin, salt, badge, n), f"scrypt:{n}:8:1", now,
            now + timedelta(seconds=self._config.offline_login_s), 0))

    async def _offline(self, badge: str, pin: str) -> LoginResult:
        cached = self._store.cached_driver(badge)
        if cached is None:
            self.counters["refused"] += 1
            return LoginResult.of(False, "login_unknown_offline")
        if self._clock.now() >= cached.expires_at:
            self.counters["refused"] += 1
            return LoginResult.of(False, "login_expired")
        if cached.failures >= self._config.offline_max_failures:
            self.counters["refused"] += 1
            return LoginResult.of(False, "login_locked")
        n = int(cached.scheme.split(":")[1])
        if not hmac.compare_digest(pin_hash(pin, cached.salt, badge, n), cached.hash):
            await self._store.count_failure(badge)
            self.counters["refused"] += 1
            return LoginResult.of(False, "login_refused")
        self.counters["offline"] += 1
        return await self._start(badge, cached.name, offline=True)

    async def _start(self, badge: str, name: str, offline: bool) -> LoginResult:
        now = self._clock.now()
        await self._store.set_session(badge, name, now, offline)
        driver = DriverView(badge, name, now, offline)
        return LoginResult.of(True, "login_ok_offline" if offline else "login_ok", driver, offline)
