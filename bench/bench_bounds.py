"""Bounds under attack (issue 10): what a hostile line or peer costs a node, each against the
same run with the bound lifted (the baseline: how the code behaved before the bound).

- serial: junk written into a plain scanner's pty at full speed for --seconds, the sink
  taking 0.5 ms per event (as a commit does). Reported: RSS growth, bytes read/dropped, and
  how long a real scan sent after the flood takes to arrive (the baseline gives up at
  --give-up seconds).
- camera: another process opens 3,000 idle connections to a camera listener whose process
  may open 1,024 files (systemd's default soft limit; set here with setrlimit); meanwhile a
  valid post is timed. Reported: peak open files, errors asyncio logged (accept() failing for
  want of file descriptors), the post's answer and time, and what was counted.

    .venv/bin/python bench/bench_bounds.py [--seconds 6] [--give-up 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config.devices import Camera, PlainScanner  # noqa: E402
from agent.contract.devices import Scan  # noqa: E402
from agent.contract.node import DeviceStatus  # noqa: E402
from agent.devices.camera import CameraDriver  # noqa: E402
from agent.devices.scanner import PlainScannerDriver  # noqa: E402
from agent.devices.supervisor import Supervisor  # noqa: E402

UNBOUNDED = 10**12


def rss_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


class SlowSink:
    def __init__(self) -> None:
        self.scans: list[str] = []
        self.online = asyncio.Event()

    async def emit(self, device: str, event: object) -> None:
        if isinstance(event, DeviceStatus):
            if event.status == "online":
                self.online.set()
            return
        await asyncio.sleep(0.0005)
        if isinstance(event, Scan):
            self.scans.append(event.data)


def junk(rng: random.Random, size: int) -> bytes:
    parts: list[bytes] = []
    while sum(map(len, parts)) < size:
        parts.append(rng.choice([bytes(rng.randrange(0x21, 0x7F) for _ in range(rng.randrange(1, 30))),
                                 "\u0085".encode(), b"\xc3\x28", b"\r\n",
                                 bytes(rng.randrange(0x80, 0xFF) for _ in range(8))]))
    return b"".join(parts)


async def serial_flood(bounded: bool, seconds: float, give_up: float) -> str:
    master, slave = os.openpty()
    sink = SlowSink()
    config = PlainScanner(kind="scanner", name="scan-1", port=os.ttyname(slave), terminator="CRLF")
    driver = PlainScannerDriver(config, sink)
    supervisor = Supervisor([driver], rng=random.Random(7))
    task = supervisor.start()
    try:
        await asyncio.wait_for(sink.online.wait(), 10)
        if not bounded:
            driver.port.max_pending = UNBOUNDED
        block, stop = junk(random.Random(5), 64 * 1024), time.monotonic() + seconds

        def flood() -> None:
            while time.monotonic() < stop:
                os.write(master, block)

        writer = threading.Thread(target=flood)
        writer.start()
        base = peak = rss_mb()
        while writer.is_alive():
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.05)
        sent = time.monotonic()
        os.write(master, b"\r\nTCNU7200794\r\n")
        while "TCNU7200794" not in sink.scans and time.monotonic() - sent < give_up:
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.05)
        waited = time.monotonic() - sent
        arrived = f"{waited:.1f} s" if "TCNU7200794" in sink.scans else f"not within {give_up:g} s"
        c = driver.counters
        return (f"| serial, {'bounded' if bounded else 'baseline (unbounded)'} | +{peak - base} MB | "
                f"{c['bytes'] // 1024} kB read, {c['dropped_bytes'] // 1024} kB dropped | real scan: {arrived} |")
    finally:
        await supervisor.stop()
        await task
        os.close(master)
        os.close(slave)


IDLE_PEER = r"""
import resource, socket, sys, time
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the peer is not the one limited
socks = []
for _ in range(3000):
    try:
        socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
    except OSError:
        break
print(len(socks), flush=True)
time.sleep(float(sys.argv[2]))
"""


async def timed_post(port: int) -> str:
    body = json.dumps({"text": "CSQU3054383", "confidence": 0.9}).encode()
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        writer.write(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    except (OSError, TimeoutError) as err:
        return f"no answer ({type(err).__name__}) after {time.monotonic() - start:.1f} s"
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace").removeprefix("HTTP/1.1 ")
    return f"{status} in {(time.monotonic() - start) * 1000:.1f} ms"


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def camera_flood(bounded: bool) -> str:
    errors = Errors()
    logging.getLogger("asyncio").addHandler(errors)
    logging.getLogger("asyncio").propagate = False
    driver = CameraDriver(Camera(kind="camera", name="cam", listen="127.0.0.1:0"), SlowSink())
    if not bounded:
        driver.max_connections = UNBOUNDED
    await driver.open()
    serving = asyncio.create_task(driver.serve())
    peer = await asyncio.create_subprocess_exec(sys.executable, "-c", IDLE_PEER, str(driver.port), "6",
                                                stdout=subprocess.PIPE)
    try:
        peak, start = open_files(), time.monotonic()
        while time.monotonic() - start < 3:
            peak = max(peak, open_files())
            await asyncio.sleep(0.01)
        post = asyncio.create_task(timed_post(driver.port))
        while peer.returncode is None:
            peak = max(peak, open_files())
            try:
                await asyncio.wait_for(peer.wait(), 0.01)
            except TimeoutError:
                pass
        opened = (await peer.stdout.readline()).decode().strip()
        post = await post
        c = driver.counters
        return (f"| camera, {'cap 32' if bounded else 'baseline (no cap)'} | {opened} idle connections, peak "
                f"{peak} open files, {errors.count} errors logged | busy {c['busy']}, timeout {c['timeout']} | "
                f"valid post: {post} |")
    finally:
        await driver.close()
        serving.cancel()
        logging.getLogger("asyncio").removeHandler(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--give-up", type=float, default=30.0)
    args = parser.parse_args()
    print("| attack | cost | handled | a real device meanwhile |\n|---|---|---|---|")
    for bounded in (True, False):
        print(asyncio.run(serial_flood(bounded, args.seconds, args.give_up)), flush=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        for bounded in (True, False):
            print(asyncio.run(camera_flood(bounded)), flush=True)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


if __name__ == "__main__":
    main()
