"""A TCP fault proxy between agents and the broker: latency, stalls, cuts and resets on demand.

    agent --> 127.0.0.1:<proxy port> --> proxy --> broker

`FaultProxy` runs its own asyncio loop on one thread so synchronous tests and scenario runners
can drive it. Faults:
  - `latency_s`: added to every chunk in both directions (kept in order);
  - `stall()` / `resume()`: bytes are held (connections stay open: a keepalive timeout follows);
  - `cut()`: closes every connection gracefully (FIN), new ones still accepted;
  - `reset()`: aborts every connection (RST);
  - `refuse(True)`: new connections are closed at once (the broker looks down).
Only loopback addresses are accepted, by design.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from dataclasses import dataclass, field


def _loopback(host: str) -> None:
    try:
        addr = ipaddress.ip_address(socket.gethostbyname(host) if host != "::1" else host)
    except (OSError, ValueError):
        raise ValueError(f"fault proxy: cannot resolve {host!r}") from None
    if not addr.is_loopback:
        raise ValueError(f"fault proxy: only loopback targets are allowed, not {host}")


@dataclass
class ProxyStats:
    connections: int = 0
    cuts: int = 0
    resets: int = 0
    refused: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


@dataclass(eq=False)  # identity hashing: pairs live in a set
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task] = field(default_factory=list)


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1", listen_port: int = 0):
        _loopback(target_host)
        _loopback(listen_host)
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.latency_s = 0.0
        self.stats = ProxyStats()
        self._refusing = False
        self._flowing: asyncio.Event | None = None
        self._pairs: set[_Pair] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def port(self) -> int:
        return self.listen[1]

    @property
    def url(self) -> str:
        return f"mqtt://{self.listen[0]}:{self.listen[1]}"

    # -- lifecycle (any thread) ---------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- faults (any thread) ------------------------------------------------------------------
    def stall(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def resume(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.set)

    def refuse(self, on: bool = True) -> None:
        self._refusing = on

    def cut(self) -> None:
        self._call(self._close_all(abort=False))

    def reset(self) -> None:
        self._call(self._close_all(abort=True))

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    # -- inside the loop ----------------------------------------------------------------------
    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, *self.listen)
        self.listen = (self.listen[0], self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
        await self._close_all(abort=True, count=False)

    async def _close_all(self, abort: bool, count: bool = True) -> None:
        pairs, self._pairs = list(self._pairs), set()
        for pair in pairs:
            for writer in (pair.client, pair.upstream):
                if abort:
                    writer.transport.abort()
                else:
                    writer.close()
            for task in pair.tasks:
                task.cancel()
            await asyncio.gather(*pair.tasks, return_exceptions=True)
        if count:
            if abort:
                self.stats.resets += len(pairs)
            else:
                self.stats.cuts += len(pairs)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            self.stats.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.stats.refused += 1
            writer.transport.abort()
            return
        self.stats.connections += 1
        pair = _Pair(writer, up_writer)
        self._pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair, up=True)),
            asyncio.create_task(self._pump(up_reader, writer, pair, up=False)),
        ]

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: _Pair, up: bool) -> None:
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                await self._flowing.wait()
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                writer.write(chunk)
                await writer.drain()
                if up:
                    self.stats.bytes_up += len(chunk)
                else:
                    self.stats.bytes_down += len(chunk)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            # one side ended: end the other so the agent sees the broker go away
            if pair in self._pairs:
                self._pairs.discard(pair)
                pair.client.close()
                pair.upstream.close()
