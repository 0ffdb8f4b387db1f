"""A null-modem cable between two programs that both open a serial *path*.

`VirtualSerial` puts a sans-I/O stub on one end of a pty; but a device stub that is itself a
serial program — the gate controller is a pymodbus RTU server that opens a port path — needs
a path too. `NullModem` makes two pty pairs and joins their masters on the asyncio loop:
`a` and `b` are the two ends' device paths, and bytes written on one come out of the other.
The slaves stay open here, so neither side sees a hang-up while the other closes and reopens.
`unplug()` / `replug()` cut and restore the wire (bytes in between are lost, as on a cable).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty


class NullModem:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._fds: list[int] = []
        ends = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._fds += [master, slave]
            ends.append((master, os.ttyname(slave)))
        (self._ma, self.a), (self._mb, self.b) = ends
        self.connected = True
        self.bytes_carried = 0
        self.loop.add_reader(self._ma, self._pump, self._ma, self._mb)
        self.loop.add_reader(self._mb, self._pump, self._mb, self._ma)

    def _pump(self, source: int, sink: int) -> None:
        try:
            data = os.read(source, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO: the far side is between close and reopen
        if not self.connected:
            return
        with contextlib.suppress(OSError):
            os.write(sink, data)
            self.bytes_carried += len(data)

    def unplug(self) -> None:
        self.connected = False

    def replug(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.loop.remove_reader(self._ma)
        self.loop.remove_reader(self._mb)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
