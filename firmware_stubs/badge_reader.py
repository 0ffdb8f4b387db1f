"""Staff badge reader stub: a Wiegand-to-serial converter in raw-frame line mode
(agent/codecs/wiegand.py): each badge swiped goes out as `<bits>:<HEX>\\r\\n`.

Scripted: `swipe(facility, card, bits=26)`, `swipe(..., bad_parity=True)` (one data bit
flipped on the wire, as a misread on the Wiegand wires would). The converter has no
host commands: whatever the host sends is ignored.
"""

from __future__ import annotations

from agent.codecs import wiegand
from firmware_stubs.base import Firmware


class BadgeReader(Firmware):
    swiped: int = 0

    def swipe(self, facility: int, card: int, *, bits: int = 26, bad_parity: bool = False) -> None:
        value = wiegand.frame_bits(bits, facility, card)
        if bad_parity:
            value ^= 1 << 1  # the last data bit
        digits = 7 if bits == 26 else 9
        with self.lock:
            self.swiped += 1
            self.send(f"{bits}:{value:0{digits}X}\r\n".encode())
