"""Staff badge reader driver: Wiegand raw-frame lines from a converter (agent/codecs/wiegand.py).

Each good line becomes a `BadgeFrame` for the personnel lane. A line whose parity failed is
counted (`bad_parity`) and dropped: the converter has no way to ask again, the person swipes
again. Counters: badges, bad_parity, garbled, garbled_bytes.
"""

from __future__ import annotations

import logging

from agent.codecs import wiegand
from agent.codecs.base import Garbled
from agent.config.devices import BadgeReader
from agent.devices.serial_port import SerialDriver

log = logging.getLogger(__name__)


class BadgeReaderDriver(SerialDriver[BadgeReader]):
    idle_timeout_s = 0.5  # a line without its terminator after this long will not complete

    def reset(self) -> None:
        self.decoder = wiegand.BadgeDecoder()

    async def on_idle(self) -> None:
        await self._take(self.decoder.flush())

    async def on_bytes(self, data: bytes) -> None:
        await self._take(self.decoder.feed(data))

    async def _take(self, events: list) -> None:
        for event in events:
            if isinstance(event, Garbled):
                self.count_garbled(event)
            elif isinstance(event, wiegand.BadParity):
                self.count("bad_parity")
                log.info("device %s: badge line with bad parity dropped", self.name)
            else:
                self.count("badges")
                await self.emit(event)
