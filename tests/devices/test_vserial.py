"""The virtual serial line itself: bytes both ways through a real pty, faults, clean shutdown."""

from __future__ import annotations

import os
import random

import serial

from firmware_stubs.base import Firmware
from simulators.vserial import VirtualSerial


class Echo(Firmware):
    """Answers every byte with the same byte upper-cased: enough to see both directions."""

    def on_receive(self, data: bytes) -> None:
        self.send(data.upper())


def _read_exactly(port, n: int) -> bytes:
    got = b""
    for _ in range(200):
        got += port.read(n - len(got))
        if len(got) >= n:
            break
    return got


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_bytes_flow_both_ways_and_garbage_comes_first(tmp_path):
    fds_before = _fds()
    with VirtualSerial(Echo(), directory=tmp_path, name="ttyV0") as line:
        assert os.path.islink(line.path) and os.readlink(line.path).startswith("/dev/pts/")
        with serial.serial_for_url(line.path, baudrate=9600, timeout=0.05) as port:
            port.write(b"abc")
            assert _read_exactly(port, 3) == b"ABC"
            line.inject(b"\x00!")
            port.write(b"d")
            assert _read_exactly(port, 3) == b"\x00!D"
    assert not os.path.exists(line.path)
    assert _fds() == fds_before  # pty pair closed


def test_unplug_makes_reads_fail_and_replug_serves_the_same_path(tmp_path):
    with VirtualSerial(Echo(), directory=tmp_path, name="ttyV1") as line:
        port = serial.serial_for_url(line.path, timeout=0.05)
        try:
            line.unplug()
            assert not os.path.exists(line.path)
            failed = False
            for _ in range(50):
                try:
                    port.read(1)
                except serial.SerialException:
                    failed = True
                    break
            assert failed, "a read on an unplugged port must fail"
        finally:
            port.close()
        line.replug()
        with serial.serial_for_url(line.path, timeout=0.05) as port:
            port.write(b"x")
            assert _read_exactly(port, 1) == b"X"


def test_drop_rate_loses_bytes_at_that_rate(tmp_path):
    with VirtualSerial(Echo(), directory=tmp_path, name="ttyV2", rng=random.Random(1), drop_rate=0.5) as line:
        with serial.serial_for_url(line.path, timeout=0.05) as port:
            port.write(b"a" * 400)
            got = b""
            for _ in range(40):
                got += port.read(1000)
        dropped = line.counters["dropped"]
    # both directions drop half: about a quarter arrives back
    assert 40 <= len(got) <= 160
    assert dropped + len(got) >= 400 - 5
