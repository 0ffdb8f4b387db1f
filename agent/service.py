"""The service manager's notify protocol (systemd `Type=notify`), without libsystemd.

The protocol is one datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET
(`@name` is an abstract socket): `READY=1` once the node is up, `WATCHDOG=1` at half the
period in $WATCHDOG_USEC, `STOPPING=1` on the way down, `STATUS=...` for `systemctl status`.
The watchdog is sent from the node's own event loop, so a loop that hangs stops the pings and
systemd restarts the service. Without $NOTIFY_SOCKET every call does nothing.

Never: raise because the manager went away (a lost datagram is not the node's failure), or
block the loop on a manager that does not read (sends are non-blocking).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *fields: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # never wait on the manager: a full queue must not block the node's loop
                sock.setblocking(False)
                sock.sendto("\n".join(fields).encode(), self.address)
            return True
        except OSError as err:
            log.debug("notify %s failed: %s", fields, err)
            return False

    def ready(self, status: str = "") -> None:
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    async def watchdog(self) -> None:
        """Ping at half the watchdog period for as long as the loop runs (cancel to stop)."""
        if self.watchdog_s is None or not self.address:
            return
        every = self.watchdog_s / 2
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(every)

    def start_watchdog(self) -> asyncio.Task | None:
        if self.watchdog_s is None or not self.address:
            return None
        return asyncio.create_task(self.watchdog(), name="systemd-watchdog")


async def stop_task(task: asyncio.Task | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
