"""Driving paho clients from a loop we own: their sockets in one selector, through paho's
external-loop hooks.

paho's own `loop_start()` is a thread and a socket pair per client, reconnecting on paho's
schedule, and its select() fails past fd 1024. paho 2.x lets the caller own the sockets
instead: it reports a socket opened or closed (`on_socket_open/close`) and when it has bytes
to send (`on_socket_register_write/unregister_write`); the caller calls `loop_read` when the
socket is readable, `loop_write` when it is writable, and `loop_misc` (keepalive, timeouts)
about once a second. `PahoSockets` is that caller's half, for one client or a thousand on one
thread (epoll on Linux); the fleet simulator polls it from a thread of its own. The link's one
client is driven the same way by agent/link/net.py's network thread, whose select() also
waits on a wake-up socket for the loop's work (driving it from the asyncio loop was tried
and taken back: docs/architecture.md, Concurrency).

Invariants: every call on a client happens on the thread that calls `poll` and `misc`; a
client whose loop_read/loop_write raises is counted (`errors`) and logged, and the others are
served all the same. This module must never decide when to connect or reconnect, nor touch
the outbox.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
from typing import Any

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)


def no_delay(sock: Any) -> None:
    """paho leaves Nagle on: a PUBACK or a response written behind another small packet then
    waits for the peer's delayed ACK (~40 ms, measured in the fleet runs). MQTT packets are
    whole messages."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PahoSockets:
    """The sockets of the paho clients `attach`ed, in one selector."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._clients: list[mqtt.Client] = []
        self.errors = 0  # loop_read/loop_write calls that raised

    def attach(self, client: mqtt.Client) -> None:
        """Take over `client`'s I/O: from now on only `poll` and `misc` read and write it."""
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._wants_write
        client.on_socket_unregister_write = self._written
        self._clients.append(client)

    def forget(self, sock: Any) -> None:
        """Stop waiting on a socket closed behind paho's back."""
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def poll(self, timeout: float) -> None:
        """Wait up to `timeout` s, then read and write every client whose socket is ready."""
        for key, mask in self._selector.select(timeout):
            client: mqtt.Client = key.data
            try:
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE and client.socket() is not None:
                    client.loop_write()
            except Exception:  # noqa: BLE001 - one bad client must not stop the others
                self.errors += 1
                log.exception("paho client I/O failed")

    def misc(self) -> None:
        """Every client's keepalive and timeout bookkeeping; call about once a second."""
        for client in self._clients:
            if client.socket() is not None:
                client.loop_misc()

    def close(self) -> None:
        self._selector.close()

    # -- paho's hooks (on the polling thread) -----------------------------------------------

    def _opened(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        no_delay(sock)
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _closed(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self.forget(sock)

    def _wants_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _written(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ, client)
