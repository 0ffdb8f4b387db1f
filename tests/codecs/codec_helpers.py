"""Shared drivers for codec tests: feed the same bytes in different chunkings, pick events."""

from __future__ import annotations

from agent.codecs.base import Garbled
from agent.codecs.sam import BadChecksum as SamBadChecksum
from agent.codecs.ssi import BadChecksum
from agent.codecs.wiegand import BadParity


def feed_chunks(decoder, chunks, bound: int | None = None) -> list:
    """Feed each chunk, checking the buffer bound after every call; flush is not called."""
    events: list = []
    for chunk in chunks:
        events += decoder.feed(chunk)
        if bound is not None:
            assert decoder.buffered <= bound, (decoder.buffered, bound)
    return events


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def cut_at(data: bytes, cuts) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts}) if data else []
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def frames(events) -> list:
    return [e for e in events if not isinstance(e, Garbled | BadChecksum | SamBadChecksum | BadParity)]


def garbled_bytes(events) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Garbled))


def is_subsequence(needles: list, haystack: list) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)
