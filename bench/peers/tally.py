"""What a producer accepted and what the broker delivered, counted per event, for the kill -9 runs.

Both sides keep one byte per event in a memory-mapped file: the producer marks an event the
moment its storage acknowledged it (Port Edge: `aput` returned after the commit; ThingsBoard:
`put` returned True), the receiver counts each copy it saw on the broker. A mapped page
survives the writer's kill -9 (it belongs to the kernel's page cache, not the process), so
nothing the producer acknowledged goes uncounted because of the kill itself.

Events are numbered from a per-trial base so a late copy from an earlier trial never counts;
every event body carries its number as `"ev": N`, found in any envelope (one record, a batch,
a record carried as an escaped JSON string, a ThingsBoard telemetry pack) by the same pattern. Stdlib only: it runs in the project's venv
and in the peer's.
"""

from __future__ import annotations

import mmap
import os
import re
from dataclasses import dataclass
from pathlib import Path

EVENT_NUMBER = re.compile(rb'\\?"ev\\?":\s*(\d+)')  # also inside a record carried as a JSON string


def event_body(n: int, devices: int) -> dict:
    """The same ~200-byte event for every contender: its number, its device, a payload."""
    return {"ev": n, "device": f"dev-{n % devices}", "data": "y" * 120}


class Marks:
    """One byte per event in a shared file: 0 = not seen, k = seen k times (saturates at 255)."""

    def __init__(self, path: Path | str, size: int, *, create: bool = False):
        if size <= 0:
            raise ValueError("a marks file holds at least one event")
        self.path, self.size = Path(path), size
        fd = os.open(self.path, os.O_RDWR | (os.O_CREAT | os.O_TRUNC if create else 0), 0o600)
        try:
            if create:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)

    def mark(self, i: int) -> None:
        if 0 <= i < self.size and self._map[i] < 255:
            self._map[i] += 1

    def mark_numbers(self, payload: bytes, base: int) -> int:
        """Mark every event number found in one message; returns how many were ours."""
        ours = 0
        for number in EVENT_NUMBER.findall(payload):
            i = int(number) - base
            if 0 <= i < self.size:
                self.mark(i)
                ours += 1
        return ours

    def snapshot(self) -> bytes:
        return self._map[:]

    def seen(self) -> int:
        return self.size - self._map[:].count(0)

    def close(self) -> None:
        self._map.close()


@dataclass(frozen=True)
class Tally:
    accepted: int  # events the producer's storage acknowledged
    received: int  # of those, how many reached the broker's subscriber at least once
    lost: int  # accepted and never received, after the restarted producer drained its storage
    unacknowledged: int  # received but never acknowledged (killed between commit and ack: not a loss)
    duplicates: int  # extra copies received (QoS 1 is at least once)


def tally(accepted: bytes, received: bytes) -> Tally:
    if len(accepted) != len(received):
        raise ValueError(f"accepted marks hold {len(accepted)} events, received {len(received)}")
    n_acc = n_recv = lost = unack = dups = 0
    for a, r in zip(accepted, received, strict=True):
        if a:
            n_acc += 1
            if r:
                n_recv += 1
            else:
                lost += 1
        elif r:
            unack += 1
        if r > 1:
            dups += r - 1
    return Tally(n_acc, n_recv, lost, unack, dups)
