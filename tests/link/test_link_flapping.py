"""A broker that answers CONNACK and drops the client at once (a cluster node whose session
queue lives on a dead node, another client taking the node's client id) must be retried at
the backoff's pace, not in a hot loop: the backoff starts over only after a connection held.

The broker here is a real TCP server on loopback that speaks just enough MQTT: it reads the
CONNECT, answers CONNACK (accepted), and closes after `hold_s`.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time

import pytest

from agent.backoff import Backoff
from agent.link import Link
from agent.outbox import Outbox
from tests.link.conftest import node_config


class DroppingBroker:
    """Accepts MQTT connections, answers CONNACK, closes each after `hold_s`; notes when."""

    def __init__(self, version: str, hold_s: float = 0.0):
        self.hold_s = hold_s
        self.connack = b"\x20\x03\x00\x00\x00" if version == "5" else b"\x20\x02\x00\x00"
        self.accepted: list[float] = []  # monotonic time of each CONNECT answered
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dropping-broker", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    if not conn.recv(4096).startswith(b"\x10"):  # CONNECT (paho sends it in one write)
                        continue
                    conn.sendall(self.connack)
                    self.accepted.append(time.monotonic())
                    if self.hold_s:
                        self._stop.wait(self.hold_s)
                except OSError:
                    continue

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(5)


def run_link(config, seed: int, scenario):
    async def main():
        outbox = Outbox(config.storage.path, config.node.id)
        link = Link(config, outbox, rng=random.Random(seed))
        await link.start()
        try:
            return await scenario(link)
        finally:
            await link.stop()
            outbox.close()
    return asyncio.run(main())


@pytest.mark.parametrize("version", ["5", "3.1.1"])
def test_a_broker_that_accepts_then_drops_is_retried_at_the_backoffs_pace(tmp_path, version):
    broker = DroppingBroker(version)
    seed, base, cap = 11, 0.05, 0.4
    config = node_config(broker.url, tmp_path / "o.db", version=version, reconnect_base_s=base, reconnect_cap_s=cap,
                         reconnect_stable_s=10.0)

    async def scenario(link):
        deadline = time.monotonic() + 30
        while len(broker.accepted) < 12 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return len(broker.accepted), link._backoff.attempt

    try:
        seen, attempts = run_link(config, seed, scenario)
    finally:
        broker.close()
    times = broker.accepted
    assert seen >= 12, f"the node stopped reconnecting: {seen} connections"
    assert attempts >= seen - 1, f"the backoff started over on a CONNACK that did not last ({attempts} < {seen - 1})"
    # the same seed replays the delays the link drew: each reconnect came at least that long
    # after the previous connection (plus the time to notice the drop)
    replay = Backoff(base, cap, random.Random(seed))
    delays = [replay.next_delay() for _ in range(len(times) - 1)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    early = [(i, round(g, 4), round(d, 4)) for i, (g, d) in enumerate(zip(gaps, delays, strict=True)) if g < d - 0.002]
    assert not early, f"reconnects came before their backoff delay (index, gap, delay): {early}"
    # and the ceiling grew to the cap: a hot loop (a reset per CONNACK) would draw from [0, base]
    assert max(delays[6:]) > base, "the replayed delays never left the base range: the test proves nothing"
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate <= 1 / (sum(delays) / len(delays)) * 1.05, f"{rate:.1f} reconnects/s is above the backoff's pace"


def test_the_backoff_starts_over_once_a_connection_held(tmp_path):
    broker = DroppingBroker("5", hold_s=0.8)
    config = node_config(broker.url, tmp_path / "o.db", reconnect_base_s=0.05, reconnect_cap_s=0.4,
                         reconnect_stable_s=0.3)

    async def scenario(link):
        deadline = time.monotonic() + 30
        while len(broker.accepted) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return link._backoff.attempt

    try:
        attempts = run_link(config, 3, scenario)
    finally:
        broker.close()
    assert len(broker.accepted) >= 3, "the node stopped reconnecting"
    # each connection held 0.8 s > 0.3 s: the backoff started over, one draw per drop at most
    assert attempts <= 1, f"the backoff kept growing across connections that held: attempt {attempts}"
