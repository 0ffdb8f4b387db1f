"""The PDA's one connectivity state: what the status bar, the login screen and every other
screen say about the network. Pure, no Kivy, no I/O; the core feeds it, the presenter reads it.

Two different things can fail, and the driver is told which:
- the broker link (MQTT connected or not): without it nothing leaves the handheld;
- the platform behind the broker: the broker may be up while the platform does not answer
  (an outage at the port's data centre). The PDA learns this only from traffic: a command or
  an answer from the platform is contact; a request that went unanswered (a login that fell
  back to the offline cache) marks it silent until the next contact.

Records waiting to upload (outbox rows + board updates not yet handed to it) and the time of
the last platform contact travel with it, so the bar can say "5 to upload, platform 3 min ago".
It must never guess: with no contact yet it says so instead of claiming the platform is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Reach(StrEnum):
    """What the driver is told, worst first."""

    OFFLINE = "offline"  # no broker link: nothing leaves the PDA
    PLATFORM_SILENT = "platform_silent"  # broker up, the platform did not answer
    ONLINE = "online"  # broker up, and the platform has not failed to answer since


@dataclass(frozen=True, slots=True)
class LinkState:
    """A snapshot of `Connectivity` (equal snapshots draw the same status bar)."""

    reach: Reach
    waiting: int
    contact_age_s: float | None  # seconds since the platform was last heard; None = never


class Connectivity:
    def __init__(self, *, now: Callable[[], float] = time.monotonic):
        self._now = now
        self.broker = False
        self.platform_silent = False
        self.last_contact: float | None = None
        self.waiting = 0

    def now(self) -> float:
        """The monotonic clock this state counts contact ages with."""
        return self._now()

    def set_broker(self, up: bool) -> None:
        if up and not self.broker:
            self.platform_silent = False  # a fresh link: the platform gets a fresh chance
        self.broker = up

    def heard_platform(self) -> None:
        """A command or an answer arrived from the platform."""
        self.last_contact = self._now()
        self.platform_silent = False

    def platform_unanswered(self) -> None:
        """A request to the platform went unanswered (timeout, link down, error answer)."""
        self.platform_silent = True

    def snapshot(self) -> LinkState:
        if not self.broker:
            reach = Reach.OFFLINE
        elif self.platform_silent:
            reach = Reach.PLATFORM_SILENT
        else:
            reach = Reach.ONLINE
        age = None if self.last_contact is None else max(0.0, self._now() - self.last_contact)
        return LinkState(reach, self.waiting, age)
