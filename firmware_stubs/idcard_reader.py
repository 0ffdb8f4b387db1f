"""Resident ID card reader stub: the SAM side of the serial protocol (agent/codecs/sam.py).

Answers the host's frames as a reader does:
  SAM_STATUS -> success;  FIND_CARD -> card found (`9F`) or no card (`80`);
  SELECT_CARD -> success after a find, else select failed (`81`);
  READ_TEXT_PHOTO -> the 1,295-byte text+photo reply after a select, else read failed (`41`).
A card is readable once per presentation: after a read, find answers "no card" until the
card is taken away and put back (`remove()` + `present(...)`), as on many readers. A host
frame with a bad checksum gets no answer (the host times out and asks again).

Scripted faults: `pull_mid_read = True` - the next read reply stops after `pull_at` bytes and
the card is gone; `corrupt_replies = n` - the next n replies carry a wrong checksum (the card
stays selected, so the host may ask again). What happened: `commands` (every host frame),
`reads` (complete read replies sent), `ignored` (bad host frames).
"""

from __future__ import annotations

import random

from agent.clock import SYSTEM_CLOCK, Clock
from agent.codecs import sam
from agent.codecs.base import Garbled
from firmware_stubs.base import Firmware

#: a valid long-term card for demos and tests (DOMAIN.md's check vector, valid until 长期)
SAMPLE_CARD = dict(name="张三", gender="1", ethnic_group="01", birth_date="19491231",
                   address="北京市朝阳区示例路1号", id_number="11010519491231002X",
                   authority="北京市公安局朝阳分局", valid_from="20150101", valid_until="长期")


class IdCardReader(Firmware):
    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None):
        super().__init__(clock=clock, rng=rng)
        self.decoder = sam.SamDecoder()
        self._card: tuple[bytes, bytes] | None = None  # (text block, photo)
        self._read_done = False
        self._found = False
        self._selected = False
        self.pull_mid_read = False
        self.pull_at = 600
        self.corrupt_replies = 0
        self.commands: list[tuple[int, int]] = []
        self.reads = 0
        self.ignored = 0

    # -- scripted ------------------------------------------------------------------------------
    def present(self, fields: dict[str, str] | None = None, photo: bytes | None = None) -> None:
        """A card is laid on the reader (a fresh presentation)."""
        with self.lock:
            self._card = (sam.encode_text(fields or SAMPLE_CARD), bytes(1024) if photo is None else photo)
            self._read_done = self._found = self._selected = False

    def remove(self) -> None:
        with self.lock:
            self._card = None
            self._found = self._selected = False

    @property
    def has_card(self) -> bool:
        return self._card is not None

    # -- the wire --------------------------------------------------------------------------------
    def on_receive(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if isinstance(event, sam.SamFrame) and event.command is not None:
                self.commands.append(event.command)
                self._answer(event.command)
            elif not isinstance(event, Garbled):
                self.ignored += 1  # a bad checksum: no answer

    def _reply(self, wire: bytes) -> None:
        if self.corrupt_replies:
            self.corrupt_replies -= 1
            wire = wire[:-1] + bytes([wire[-1] ^ 0x5A])
        self.send(wire)

    def _answer(self, cmd: tuple[int, int]) -> None:
        if cmd in (sam.SAM_STATUS, sam.RESET_SAM):
            self._reply(sam.reply(sam.SUCCESS))
        elif cmd == sam.FIND_CARD:
            self._found = self._card is not None and not self._read_done
            self._reply(sam.reply(sam.CARD_FOUND, bytes(4)) if self._found else sam.reply(sam.NO_CARD))
        elif cmd == sam.SELECT_CARD:
            self._selected = self._found and self._card is not None
            self._reply(sam.reply(sam.SUCCESS, bytes(8)) if self._selected else sam.reply(sam.SELECT_FAILED))
        elif cmd == sam.READ_TEXT_PHOTO:
            if not self._selected or self._card is None:
                self._reply(sam.reply(sam.READ_FAILED))
                return
            wire = sam.read_reply(*self._card)
            if self.pull_mid_read:
                self.pull_mid_read = False
                self.send(wire[: self.pull_at])  # the card left the field: the reply stops short
                self._card, self._found, self._selected = None, False, False
                return
            self._read_done, self._found, self._selected = True, False, False
            self.reads += 1
            self._reply(wire)
        else:
            self._reply(sam.reply(0x21))  # unknown command
