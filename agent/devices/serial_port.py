"""A serial port for asyncio drivers: opened from a pyserial URL, read by the event loop's
`add_reader` when the port is a local tty (a real line, a pty), else on its own thread.

Why the loop's reader for a tty: a thread parked in `port.read()` with a timeout wakes
READ_TIMEOUT_S-often and again for every chunk, and hands each chunk over to the loop with a
GIL hand-off; an idle lane's scale at 5 Hz cost 42 wake-ups a second that way. The loop
already waits in epoll, so a readable tty costs one non-blocking `os.read` on the loop and
nothing at all when the line is quiet.

Why a reader thread for the rest (and not `asyncio.to_thread(port.read)`): the default executor has a
handful of workers (cpu+4, i.e. 6 on a 2-core gate PC) shared with everything else that uses
`to_thread`; a dozen idle ports each parked in a blocking read would starve it. One daemon
thread per open port blocks in `port.read()` with a short timeout (READ_TIMEOUT_S, so a stop
is noticed within that time even on URL handlers without `cancel_read`), and hands every
chunk - or the exception that ended the port - to the event loop with
`call_soon_threadsafe`. The loop side only ever awaits a queue.

The hand-over is bounded: at most MAX_PENDING_BYTES handed to the loop and not yet read by
it. A real line at 115200 baud makes ~11.5 kB/s, so the bound is seconds of a stalled loop;
a pty or socket:// flooded with junk at memory speed would otherwise grow the queue without
limit (708 MB once) and hold a real scan behind it for minutes. Over the bound the reader
drops what it reads and counts it (`dropped_bytes`), then pauses DROP_PAUSE_S so that reading
and dropping at memory speed cannot starve the loop; the codecs resynchronise after the gap.

Writes are short (ACKs, commands) and go through `asyncio.to_thread` so a stalled line
(hardware flow control) never blocks the loop.

`SerialDriver` is the base for drivers on such a port: it opens the port from the device
config, pumps bytes into `on_bytes`, calls `on_idle` after `idle_timeout_s` of quiet, and
raises `DeviceOffline` when the port fails or stays silent past `silence_timeout_s`.

This module must never parse device bytes (codecs do) and never sleep or retry (the
supervisor owns reopening).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any, TypeVar

import serial

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.devices import SerialDevice
from agent.devices.base import Driver
from agent.errors import DeviceOffline
from agent.interfaces import DeviceSink

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.1
_CHUNK = 4096
#: bytes read from the port and not yet taken by the loop; more are dropped and counted
MAX_PENDING_BYTES = 64 * 1024
DROP_PAUSE_S = 0.05


class SerialPort:
    """One open pyserial port plus its reader thread. Use `await open()`, `read()`, `close()`."""

    def __init__(self, url: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                 stopbits: int = 1, name: str = "serial"):
        self.url = url
        self.settings: dict[str, Any] = dict(baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits)
        self.name = name
        self.raw: Any = None  # the pyserial object; tests on loop:// may write into it
        self._inbox: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
        self.max_pending = MAX_PENDING_BYTES
        self._pending = 0  # bytes handed to the loop, not yet read (guarded by _lock)
        self.dropped = 0  # bytes dropped because the loop fell behind (guarded by _lock)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None
        self._fd: int | None = None  # the tty read by the loop's add_reader, if any
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        """Open the port (in a thread: socket:// and rfc2217:// connect over the network)."""
        opening = asyncio.ensure_future(asyncio.to_thread(
            serial.serial_for_url, self.url, timeout=READ_TIMEOUT_S, write_timeout=2.0, **self.settings
        ))
        try:
            self.raw = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # stopped while the thread was still opening: close what it opens, never leak it
            opening.add_done_callback(_close_opened)
            raise
        except (serial.SerialException, OSError, ValueError) as err:
            raise DeviceOffline(f"cannot open {self.url}: {err}") from err
        loop = asyncio.get_running_loop()
        fd = _tty_fd(self.raw)
        if fd is not None:
            self._fd, self._loop = fd, loop
            loop.add_reader(fd, self._readable)
            return
        self._thread = threading.Thread(target=self._pump, args=(loop,), name=f"serial-{self.name}", daemon=True)
        self._thread.start()

    def _readable(self) -> None:
        """Loop thread (add_reader): the tty has bytes, or has hung up."""
        assert self._fd is not None and self._loop is not None
        try:
            data = os.read(self._fd, _CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:  # EIO: the other end of a pty closed, a USB adapter unplugged
            self._fail(err)
            return
        if not data:  # readable yet empty: hung up (pyserial reads it the same way)
            self._fail(OSError("the line hung up (readable but no data)"))
            return
        if not self._take(len(data)):
            # the loop is behind: stop reading for a moment (as the reader thread pauses)
            self._loop.remove_reader(self._fd)
            self._resume = self._loop.call_later(DROP_PAUSE_S, self._listen)
            return
        self._inbox.put_nowait(data)

    def _listen(self) -> None:
        self._resume = None
        if self._fd is not None and self._loop is not None and not self._stopping.is_set():
            self._loop.add_reader(self._fd, self._readable)

    def _fail(self, err: BaseException) -> None:
        self._unlisten()
        self._inbox.put_nowait(err)

    def _unlisten(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        fd, loop, self._fd = self._fd, self._loop, None
        if fd is not None and loop is not None and not loop.is_closed():
            loop.remove_reader(fd)

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        port = self.raw
        item: bytes | BaseException
        while not self._stopping.is_set():
            try:
                item = port.read(max(1, min(_CHUNK, port.in_waiting)))
            except (serial.SerialException, OSError, TypeError, AttributeError) as err:
                # TypeError/AttributeError: pyserial's posix read after a concurrent close
                item = err
            if item == b"":
                continue
            if isinstance(item, bytes) and not self._take(len(item)):
                # the loop is behind: pause rather than spin on read-and-drop, which would
                # starve the loop of the GIL (a flooding pty or socket then simply waits)
                self._stopping.wait(DROP_PAUSE_S)
                continue
            try:
                loop.call_soon_threadsafe(self._inbox.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                return
            if isinstance(item, BaseException):
                return

    def _take(self, size: int) -> bool:
        """Reader thread: may `size` more bytes go to the loop? If not, count them dropped."""
        with self._lock:
            if self._pending + size > self.max_pending:
                self.dropped += size
                return False
            self._pending += size
            return True

    @property
    def pending(self) -> int:
        """Bytes read from the port and waiting for the loop (never above `max_pending`)."""
        with self._lock:
            return self._pending

    async def read(self, timeout: float | None) -> bytes:
        """Next chunk of bytes, or b"" after `timeout` seconds of quiet. Raises DeviceOffline
        once the port has failed (unplugged, socket closed)."""
        if self._failed is not None:
            raise DeviceOffline(f"port {self.url} lost: {self._failed}") from self._failed
        try:
            async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancel on 3.11
                item = await self._inbox.get()
        except TimeoutError:
            return b""
        if isinstance(item, BaseException):
            self._failed = item
            raise DeviceOffline(f"port {self.url} lost: {item}") from item
        with self._lock:
            self._pending -= len(item)
        return item

    async def write(self, data: bytes) -> None:
        if self.raw is None or self._failed is not None:
            raise DeviceOffline(f"port {self.url} is not open")
        try:
            await asyncio.to_thread(self.raw.write, data)
        except (serial.SerialException, OSError) as err:
            raise DeviceOffline(f"write to {self.url} failed: {err}") from err

    async def close(self) -> None:
        """Stop the reader and release the port. Safe to call twice."""
        self._stopping.set()
        self._unlisten()
        raw, thread = self.raw, self._thread
        self._thread = None
        if raw is not None and hasattr(raw, "cancel_read"):
            try:
                raw.cancel_read()
            except Exception:  # noqa: BLE001 - best effort wake-up; the read timeout covers it
                pass
        if thread is not None:
            await asyncio.to_thread(thread.join, 5.0)
        if raw is not None:
            self.raw = None
            try:
                raw.close()
            except (serial.SerialException, OSError) as err:
                log.debug("closing %s: %s", self.url, err)


def _tty_fd(raw: Any) -> int | None:
    """The descriptor of a local tty pyserial opened (non-blocking), or None for URL handlers
    (socket://, rfc2217://, loop://) whose reads stay on a thread."""
    posix = getattr(serial, "serialposix", None)
    if posix is None or not isinstance(raw, posix.Serial):
        return None
    fd = getattr(raw, "fd", None)
    return fd if isinstance(fd, int) and fd >= 0 else None


def _close_opened(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


SerialT = TypeVar("SerialT", bound=SerialDevice)


class SerialDriver(Driver[SerialT]):
    """A driver whose device is a serial line. Subclasses implement `on_bytes` (and maybe
    `on_idle`, `reset`)."""

    #: seconds of quiet after which `on_idle` runs once (0: never)
    idle_timeout_s: float = 0.0

    def __init__(self, config: SerialT, sink: DeviceSink, clock: Clock = SYSTEM_CLOCK):
        super().__init__(config, sink, clock)
        self.port: SerialPort | None = None

    def reset(self) -> None:
        """Forget codec state: called on every (re)open so half a frame from before an unplug
        never joins the first bytes after it."""

    async def on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    async def on_idle(self) -> None:
        """Called once after `idle_timeout_s` without bytes."""

    async def open(self) -> None:
        line = self.config.line
        port = SerialPort(self.config.port, baudrate=line.baudrate, bytesize=line.bytesize,
                          parity=line.parity, stopbits=line.stopbits, name=self.name)
        await port.open()
        self.port = port
        self.reset()

    async def serve(self) -> None:
        assert self.port is not None, "serve() before open()"
        loop = asyncio.get_running_loop()
        silence = self.config.silence_timeout_s
        last_byte = loop.time()
        idle_pending = False
        dropped = self.port.dropped
        while True:
            waits = []
            if idle_pending and self.idle_timeout_s > 0:
                waits.append(last_byte + self.idle_timeout_s - loop.time())
            if silence > 0:
                waits.append(last_byte + silence - loop.time())
            timeout = max(0.0, min(waits)) if waits else None
            data = await self.port.read(timeout)
            now = loop.time()
            if self.port.dropped != dropped:
                if not self.counters["dropped_bytes"]:
                    log.warning("device %s: bytes arrive faster than they are handled; dropping "
                                "(counted as dropped_bytes)", self.name)
                self.count("dropped_bytes", self.port.dropped - dropped)
                dropped = self.port.dropped
            if data:
                last_byte = now
                idle_pending = True
                self.count("bytes", len(data))
                await self.on_bytes(data)
                continue
            if idle_pending and self.idle_timeout_s > 0 and now - last_byte >= self.idle_timeout_s:
                idle_pending = False
                await self.on_idle()
            if silence > 0 and now - last_byte >= silence:
                self.count("silences")
                raise DeviceOffline(f"silent for {silence:g} s")

    async def write(self, data: bytes) -> None:
        if self.port is None:
            raise DeviceOffline("port is not open")
        await self.port.write(data)

    async def close(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            await port.close()
