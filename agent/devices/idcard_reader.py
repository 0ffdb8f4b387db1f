"""Resident ID card reader driver (SAM serial protocol): asks, waits, reads, hands on the card.

The reader speaks only when asked, so the driver polls: every `poll_s` it sends FIND_CARD;
on "card found" it sends SELECT_CARD, then READ_TEXT_PHOTO, and emits the decoded
`CardRead` (text + opaque photo) to the sink. Each command waits `reply_timeout_s` for its
reply frame; a reply with a bad checksum is asked for once more.

What can go wrong, and what the driver says:
  - a read reply that stops short (the card was pulled mid-read) or fails to decode: the
    decoder's partial frame is flushed and a `CardReadFailed(reason)` is emitted, so the lane
    can ask the person to present the card again;
  - a status byte that is not success: `CardReadFailed` with the status's meaning (the
    table in agent/codecs/sam.py plus the config's `status_codes`);
  - `max_silent` commands in a row without any reply, or the port failing (unplugged):
    `DeviceOffline`; the supervisor reopens with backoff.

The clear card data exists only in the emitted event (in memory). Logs show the masked
number at most. Counters: polls, cards, read_failed, pulled, bad_checksum, garbled,
garbled_bytes, timeouts, status.<hex>.
"""

from __future__ import annotations

import asyncio
import logging

from agent.codecs import sam
from agent.codecs.base import Garbled
from agent.codecs.sam import CardReadFailed
from agent.config.devices import IdCardReader
from agent.devices.serial_port import SerialDriver
from agent.errors import DeviceOffline, ProtocolError

log = logging.getLogger(__name__)


class IdCardReaderDriver(SerialDriver[IdCardReader]):
    def reset(self) -> None:
        self.decoder = sam.SamDecoder()
        self._frames: list[sam.SamFrame | sam.BadChecksum] = []
        self._silent = 0
        self.status_names = {**sam.STATUS, **self.config.status_codes}

    async def on_bytes(self, data: bytes) -> None:  # not used: serve() reads itself
        self._take(self.decoder.feed(data))

    def _take(self, events: list) -> None:
        for event in events:
            if isinstance(event, Garbled):
                self.count_garbled(event)
            else:
                self._frames.append(event)

    async def _ask(self, cmd: tuple[int, int]) -> sam.SamFrame | None:
        """Send one command and wait for its reply frame; one retry after a bad checksum.
        None when no good frame came in time (the decoder's leftovers are flushed)."""
        assert self.port is not None
        for _attempt in range(2):
            self._frames.clear()
            await self.write(sam.command(cmd))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.config.reply_timeout_s
            while not self._frames:
                left = deadline - loop.time()
                data = await self.port.read(left) if left > 0 else b""
                if not data:
                    break
                self.count("bytes", len(data))
                self._take(self.decoder.feed(data))
            frame = self._frames[0] if self._frames else None
            if isinstance(frame, sam.SamFrame):
                self._silent = 0
                return frame
            if isinstance(frame, sam.BadChecksum):
                self._silent = 0
                self.count("bad_checksum")
                continue
            self._take(self.decoder.flush())
            self.count("timeouts")
            return None
        return None

    async def open(self) -> None:
        await super().open()
        if await self._ask(sam.SAM_STATUS) is None:
            await self.close()
            raise DeviceOffline(f"{self.name}: the reader's SAM does not answer")

    async def serve(self) -> None:
        while not self.stopping:
            await self._poll_once()
            await asyncio.sleep(self.config.poll_s)

    async def _poll_once(self) -> None:
        self.count("polls")
        found = await self._ask(sam.FIND_CARD)
        if found is None:
            self._silent += 1
            if self._silent >= self.config.max_silent:
                raise DeviceOffline(f"{self.name}: no reply to {self._silent} commands")
            return
        if found.status != sam.CARD_FOUND:
            if found.status != sam.NO_CARD:
                self.count(f"status.{found.status:02x}")
            return
        selected = await self._ask(sam.SELECT_CARD)
        if selected is None or selected.status != sam.SUCCESS:
            await self._failed("select failed" if selected else "no reply to select")
            return
        read = await self._ask(sam.READ_TEXT_PHOTO)
        if read is None:
            self.count("pulled")
            await self._failed("card pulled mid-read: present it again")
            return
        try:
            card = sam.parse_card(read)
        except ProtocolError as err:
            reason = self.status_names.get(read.status, f"status {read.status:#04x}")
            await self._failed(str(err) if read.status == sam.SUCCESS else reason)
            return
        self.count("cards")
        await self.emit(card)

    async def _failed(self, reason: str) -> None:
        self.count("read_failed")
        log.info("device %s: card not read: %s", self.name, reason)
        await self.emit(CardReadFailed(reason))
