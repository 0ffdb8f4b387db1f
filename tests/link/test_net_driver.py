"""The link's paho driver at its seam (agent/link/net.py), with a real broker: paho's I/O runs
on the asyncio loop through PahoSockets (no network thread), PUBACKs come back as the rows
they carry, and the one blocking call (connect, with its TLS handshake) never stalls the loop."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading

import paho.mqtt.client as mqtt

from agent.link.batching import Outgoing
from agent.link.net import Acked, Connected, ConnectFailed, Delivered, NetDriver, NetEvent


def _client(name: str) -> mqtt.Client:
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)


class Events:
    def __init__(self) -> None:
        self.got: list[NetEvent] = []
        self.changed = asyncio.Event()

    def deliver(self, events: list[NetEvent]) -> None:
        self.got.extend(events)
        self.changed.set()

    async def until(self, test, what: str, timeout: float = 10.0) -> None:
        async def wait() -> None:
            while not test():
                self.changed.clear()
                await self.changed.wait()
        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s: {self.got}") from None


def test_paho_runs_on_the_loop_and_a_puback_acks_every_row_it_carried(mosquitto):
    async def scenario() -> tuple[list[str], list[NetEvent]]:
        events = Events()
        net = NetDriver(_client("net-driver-test"), asyncio.get_running_loop(), events.deliver,
                        {"host": "127.0.0.1", "port": mosquitto.port, "keepalive": 5})
        net.start()
        try:
            net.connect()
            await events.until(lambda: any(isinstance(e, Connected) for e in events.got), "CONNACK")
            net.publish_rows([Outgoing((1, 2, 3), "yt/lane-1/evt/scan", b"{}", None),
                              Outgoing((4,), "yt/lane-1/evt/scan", b"{}", None)])
            acked = asyncio.Event()
            net.publish("yt/lane-1/state", b"{}", on_ack=acked.set)
            await events.until(lambda: sorted(r for e in events.got if isinstance(e, Acked) for r in e.rids)
                               == [1, 2, 3, 4], "PUBACK of all four rows")
            await events.until(lambda: any(isinstance(e, Delivered) for e in events.got), "PUBACK of the state")
            for event in events.got:
                if isinstance(event, Delivered):
                    event.callback()
            assert acked.is_set()
            threads = [t.name for t in threading.enumerate()]  # while connected and busy
        finally:
            await net.stop()
        return threads, events.got

    threads, got = asyncio.run(scenario())
    assert not [name for name in threads if "net" in name or name.startswith("paho")], threads
    assert isinstance(got[0], Connected)


def test_a_connect_that_hangs_in_its_tls_handshake_leaves_the_loop_running():
    """A broker address that accepts TCP but never answers the handshake: paho's connect blocks
    for its connect_timeout. The loop must go on (a gate lane decides on it meanwhile)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)

    async def scenario() -> tuple[int, list[NetEvent]]:
        events = Events()
        client = _client("net-driver-hang")
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.connect_timeout = 1.0
        net = NetDriver(client, asyncio.get_running_loop(), events.deliver,
                        {"host": "127.0.0.1", "port": silent.getsockname()[1], "keepalive": 5})
        net.start()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        try:
            net.connect()
            await events.until(lambda: any(isinstance(e, ConnectFailed) for e in events.got), "connect failure")
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            await net.stop()
        return ticks, events.got

    try:
        ticks, got = asyncio.run(scenario())
    finally:
        silent.close()
    failed = [e for e in got if isinstance(e, ConnectFailed)]
    assert failed and "timed out" in failed[0].reason, got
    assert ticks >= 30, f"the loop stalled while connect() blocked: {ticks} ticks in ~1 s"
