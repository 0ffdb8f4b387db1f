"""Virtual serial lines: a firmware stub on one end, a device path (or socket) on the other.

`VirtualSerial` makes a pseudo-terminal pair (os.openpty, slave in raw mode), runs the stub on
the master end from one pump thread, and publishes the slave as a stable symlink
(`<dir>/<name>`, like /dev/serial/by-id/...) for the agent's config. `TcpSerial` does the
same behind a loopback TCP listener, the way a serial device server (Moxa NPort class)
exposes a port: the agent's config says `socket://127.0.0.1:<port>`.

Faults on demand, from any thread:
  - `inject(b"...")`   garbage bytes ahead of the device's next output;
  - `drop_rate = 0.1`  each byte, either direction, lost with that probability (seeded rng);
  - `unplug()`         the pty pair is closed and the symlink removed: the agent's reads
                       fail and reopening finds no device, as after a USB unplug;
  - `replug()`         a fresh pty pair behind the same symlink path.
While unplugged the stub keeps running (its output is lost), as a mains-powered indicator
would.

The pump thread alone touches the fds; faults are commands it runs between two polls, so a
caller never races it. Never used by agent/ (simulators -> agent, never the reverse).
"""

from __future__ import annotations

import os
import random
import select
import socket
import tempfile
import threading
import tty
from collections.abc import Callable
from pathlib import Path

from firmware_stubs.base import Firmware

_TICK_S = 0.005


class _Pump:
    """The thread and the fault commands shared by the pty and TCP lines."""

    def __init__(self, firmware: Firmware, *, name: str, rng: random.Random | None, drop_rate: float):
        self.firmware = firmware
        self.name = name
        self.rng = rng or random.Random(0)
        self.drop_rate = drop_rate
        self.counters = {"to_host": 0, "from_host": 0, "dropped": 0, "overrun": 0, "garbage": 0}
        self._garbage = bytearray()
        self._commands: list[tuple[Callable[[], None], threading.Event]] = []
        self._cmd_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- faults (any thread) -----------------------------------------------------------------
    def inject(self, garbage: bytes) -> None:
        self._run(lambda: self._garbage.extend(garbage))

    def _run(self, action: Callable[[], None]) -> None:
        if self._thread is None or not self._thread.is_alive():
            action()
            return
        done = threading.Event()
        with self._cmd_lock:
            self._commands.append((action, done))
        if not done.wait(5.0):
            raise TimeoutError(f"{self.name}: pump thread did not answer")

    def _drop(self, data: bytes) -> bytes:
        if not self.drop_rate or not data:
            return data
        kept = bytes(b for b in data if self.rng.random() >= self.drop_rate)
        self.counters["dropped"] += len(data) - len(kept)
        return kept

    # -- the thread ----------------------------------------------------------------------------
    def _start_thread(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"vserial-{self.name}", daemon=True)
        self._thread.start()

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._cmd_lock:
                commands, self._commands = self._commands, []
            for action, done in commands:
                try:
                    action()
                finally:
                    done.set()
            self._step()

    def _deliver(self, data: bytes) -> None:
        data = self._drop(data)
        if data:
            self.counters["from_host"] += len(data)
            self.firmware.receive(data)

    def _outgoing(self) -> bytes:
        out = self.firmware.poll()
        if self._garbage:
            self.counters["garbage"] += len(self._garbage)
            out = bytes(self._garbage) + out
            self._garbage.clear()
        return self._drop(out)

    def _step(self) -> None:
        raise NotImplementedError


class VirtualSerial(_Pump):
    """A pty pair with `firmware` on the master end; the agent opens `path`."""

    def __init__(self, firmware: Firmware, *, name: str = "ttyV0", directory: str | Path | None = None,
                 rng: random.Random | None = None, drop_rate: float = 0.0):
        super().__init__(firmware, name=name, rng=rng, drop_rate=drop_rate)
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="vserial-"))
        self.path = str(self.directory / name)
        self._master: int | None = None
        self._slave: int | None = None
        self.plugged = False

    def start(self) -> VirtualSerial:
        self._plug()
        self._start_thread()
        return self

    def __enter__(self) -> VirtualSerial:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop_thread()
        self._unplug()
        if self._own_dir:
            try:
                self.directory.rmdir()
            except OSError:
                pass

    def unplug(self) -> None:
        self._run(self._unplug)

    def replug(self) -> None:
        self._run(self._plug)

    @property
    def tty_name(self) -> str | None:
        return os.ttyname(self._slave) if self._slave is not None else None

    def _plug(self) -> None:
        if self.plugged:
            return
        master, slave = os.openpty()
        # raw: no echo back to the device, no line editing, no CR/LF translation
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        # We keep the slave open so the master never sees a hang-up while the agent reopens.
        tmp = f"{self.path}.new"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.path)
        self.plugged = True

    def _unplug(self) -> None:
        self.plugged = False
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def _step(self) -> None:
        if not self.plugged or self._master is None:
            self.firmware.poll()  # the device runs on; its bytes go nowhere
            self._stop.wait(_TICK_S)
            return
        master = self._master
        ready, _, _ = select.select([master], [], [], _TICK_S)
        if ready:
            try:
                self._deliver(os.read(master, 4096))
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                pass  # EIO: no slave open for a moment; the next step sees it again
        out = self._outgoing()
        if out:
            try:
                written = os.write(master, out)
            except BlockingIOError:
                written = 0
            except OSError:
                written = 0
            self.counters["to_host"] += written
            self.counters["overrun"] += len(out) - written


class TcpSerial(_Pump):
    """A serial device server on 127.0.0.1: one host connection at a time gets the device."""

    def __init__(self, firmware: Firmware, *, name: str = "tcp0", rng: random.Random | None = None,
                 drop_rate: float = 0.0):
        super().__init__(firmware, name=name, rng=rng, drop_rate=drop_rate)
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> TcpSerial:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        self._listener, self.port = listener, listener.getsockname()[1]
        self._start_thread()
        return self

    def __enter__(self) -> TcpSerial:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def disconnect(self) -> None:
        """Drop the host's connection (the agent sees 'socket disconnected')."""
        self._run(self._drop_client)

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        self._stop_thread()
        self._drop_client()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _step(self) -> None:
        assert self._listener is not None
        watch = [self._listener] + ([self._client] if self._client is not None else [])
        ready, _, _ = select.select(watch, [], [], _TICK_S)
        if self._listener in ready:
            client, _ = self._listener.accept()
            self._drop_client()  # a device server serves one host at a time
            client.setblocking(False)
            self._client = client
        if self._client is not None and self._client in ready:
            try:
                data = self._client.recv(4096)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if data == b"":
                self._drop_client()
            elif data:
                self._deliver(data)
        out = self._outgoing()
        if out and self._client is not None:
            try:
                self._client.sendall(out)
                self.counters["to_host"] += len(out)
            except OSError:
                self.counters["overrun"] += len(out)
        elif out:
            self.counters["overrun"] += len(out)
