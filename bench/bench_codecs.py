"""Codec throughput: 1,000,000 seeded random bytes with valid frames embedded, per codec.

Reports bytes/s, the ratio to a 9600-baud line (960 bytes/s) and the frames recovered out of
those embedded (and how many "frames" the garbage itself produced). Run: .venv/bin/python bench/bench_codecs.py [--bytes N] [--chunks 1,64,4096]

Garbage is fully random bytes (it may hold accidental frame starts, so a frame can be lost to
garbage; the recovery column shows how often). For the plain scanner the garbage is ended by
CR LF, as a line protocol cannot cut garbage anywhere else. The time is measured with
perf_counter around the feed calls only; the machine is shared, so read figures as orders of
magnitude, not as precise numbers. A baseline (bytes.find over the same stream in the same
chunks) is timed in the same run: "time x baseline" is the codec's time over the baseline's,
comparable across machines.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.codecs.base import Garbled  # noqa: E402
from agent.codecs.scanner_plain import PlainScannerDecoder, encode_plain  # noqa: E402
from agent.codecs.ssi import DECODE_DATA, BadChecksum, SsiDecoder, encode_packet  # noqa: E402
from agent.codecs.toledo import ToledoDecoder, encode_toledo  # noqa: E402
from agent.codecs.yaohua import YaohuaDecoder, encode_yaohua  # noqa: E402

LINE_RATE = 960  # bytes/s at 9600 baud, 8N1 (10 bits a byte)
SEED = 20240604


# Each maker returns (bytes to embed, the `raw` the decoded event must carry).
def ssi_frame(rng: random.Random) -> tuple[bytes, bytes]:
    text = "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=rng.randint(8, 40)))
    wire = encode_packet(DECODE_DATA, 0, bytes([0x03]) + text.encode())
    return wire, wire


def toledo_frame(rng: random.Random) -> tuple[bytes, bytes]:
    wire = encode_toledo(rng.randint(0, 99_999), unit="kg", motion=rng.random() < 0.5)
    return wire, wire


def yaohua_frame(rng: random.Random) -> tuple[bytes, bytes]:
    wire = encode_yaohua(rng.randint(0, 999_999) / 100, dp=2)
    return wire, wire


def plain_frame(rng: random.Random) -> tuple[bytes, bytes]:
    text = "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=rng.randint(8, 40)))
    # CR LF first: it ends the garbage line before the scan
    return b"\r\n" + encode_plain(text, aim="]C0"), b"]C0" + text.encode()


CODECS: list[tuple[str, Callable[[], object], Callable[[random.Random], tuple[bytes, bytes]]]] = [
    ("plain scanner", lambda: PlainScannerDecoder(), plain_frame),
    ("SSI", SsiDecoder, ssi_frame),
    ("Toledo (18 bytes)", ToledoDecoder, toledo_frame),
    ("Yaohua XK3190-A9", YaohuaDecoder, yaohua_frame),
]


def stream(total: int, make_frame) -> tuple[bytes, list[bytes]]:
    """The garbage-and-frames stream, and each embedded frame's bytes (as `raw` will show)."""
    rng = random.Random(SEED)
    out, frames = bytearray(), []
    while len(out) < total:
        out += rng.randbytes(rng.randint(0, 200))
        wire, raw = make_frame(rng)
        out += wire
        frames.append(raw)
    return bytes(out), frames


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def timed(decoder, chunks: list[bytes]) -> tuple[float, list]:
    events: list = []
    start = time.perf_counter()
    for chunk in chunks:
        events += decoder.feed(chunk)
    return time.perf_counter() - start, events


def recovered(events: list, embedded: list[bytes]) -> tuple[int, int]:
    """(embedded frames found, in order; frames that came out of the garbage)."""
    found = spurious = 0
    for event in events:
        if isinstance(event, Garbled | BadChecksum):
            continue
        if found < len(embedded) and event.raw == embedded[found]:
            found += 1
        else:
            spurious += 1
    return found, spurious


def baseline(chunks: list[bytes]) -> float:
    buf = bytearray()
    start = time.perf_counter()
    for chunk in chunks:
        buf += chunk
        buf.find(2)
        del buf[: max(0, len(buf) - 16)]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1_000_000)
    parser.add_argument("--chunks", default="1,64,4096", help="read sizes to feed, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.chunks.split(",")]
    print(f"{args.bytes:,} bytes per codec, seed {SEED}, Python {sys.version.split()[0]}\n")
    print(
        "| codec | read size | bytes/s | x 9600 baud | time x baseline "
        "| embedded frames recovered | frames out of garbage |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, make, make_frame in CODECS:
        data, embedded = stream(args.bytes, make_frame)
        for size in sizes:
            chunks = chunked(data, size)
            seconds, events = timed(make(), chunks)
            base = baseline(chunks)
            found, spurious = recovered(events, embedded)
            rate = len(data) / seconds
            print(
                f"| {name} | {size} | {rate:,.0f} | {rate / LINE_RATE:,.0f} | "
                f"{seconds / base:.1f} | {found}/{len(embedded)} | {spurious} |"
            )


if __name__ == "__main__":
    main()
