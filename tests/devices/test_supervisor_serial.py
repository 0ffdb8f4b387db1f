"""The supervisor over real ports: unplug/replug, missing ports, silence, and URL ports."""

from __future__ import annotations

import asyncio

from _serial_kit import RecordingSink, plain_scanner, supervised, toledo, yaohua

from agent.config.model import NodeConfig
from agent.contract.node import DeviceStatus
from agent.devices.registry import build_drivers
from agent.devices.scanner import PlainScannerDriver
from agent.devices.weighbridge import ToledoDriver, YaohuaDriver
from firmware_stubs.plain_scanner import PlainScanner
from firmware_stubs.toledo import ToledoIndicator
from firmware_stubs.yaohua import YaohuaIndicator
from simulators.vserial import TcpSerial, VirtualSerial


def test_unplug_and_replug_mid_stream_while_the_other_device_carries_on(tmp_path):
    scale_stub = ToledoIndicator(rate_hz=20, settle_s=0.2)
    scanner_stub = PlainScanner()

    async def main():
        sink = RecordingSink()
        with VirtualSerial(scale_stub, directory=tmp_path, name="scale-1") as scale_line, \
                VirtualSerial(scanner_stub, directory=tmp_path, name="scan-1") as scan_line:
            scale = ToledoDriver(toledo("scale-1", scale_line.path), sink)
            scanner = PlainScannerDriver(plain_scanner("scan-1", scan_line.path), sink)
            async with supervised(scale, scanner):
                await sink.until(lambda: sink.weights("scale-1") and "online" in sink.statuses("scan-1"), "both up")
                scale_line.unplug()
                await sink.until(lambda: sink.statuses("scale-1")[-1:] == ["offline"], "scale offline")
                # while the scale is away, the scanner still works
                scanner_stub.scan("CSQU3054383")
                await sink.until(lambda: sink.scans("scan-1"), "scan during the scale outage")
                await sink.until(lambda: scale.counters["open_failures"] >= 1, "reopen tried on a missing port")
                scale_line.replug()
                await sink.until(lambda: sink.statuses("scale-1")[-1:] == ["online"], "scale back online")
                scale_stub.set_load(31000)
                await sink.until(lambda: sink.weights("scale-1")[-1].value == 31000
                                 and sink.weights("scale-1")[-1].stable, "weights after replug")
        return sink, scale, scanner

    sink, scale, scanner = asyncio.run(main())
    collapsed = [s for i, s in enumerate(sink.statuses("scale-1")) if i == 0 or s != sink.statuses("scale-1")[i - 1]]
    assert collapsed == ["online", "offline", "online", "offline"]
    details = [s.detail for s in sink.of("scale-1", DeviceStatus)]
    assert any("cannot open" in d for d in details)  # the missing port was reported as such
    assert sink.statuses("scan-1") == ["online", "offline"]  # up all along; offline only at stop
    assert scale.counters["reconnects"] == 1 and scale.counters["port_lost"] == 1
    assert scanner.counters.get("port_lost", 0) == 0
    lost = [s for d, s in sink.events if d == "scale-1" and getattr(s, "status", "") == "offline"][0]
    assert "lost" in lost.detail and lost.counters["port_lost"] == 1


def test_a_port_that_is_not_there_is_reported_offline_and_retried(tmp_path):
    async def main():
        sink = RecordingSink()
        driver = PlainScannerDriver(plain_scanner("ghost", str(tmp_path / "no-such-tty")), sink)
        async with supervised(driver):
            await sink.until(lambda: driver.counters["open_failures"] >= 3, "three attempts")
        return sink, driver

    sink, driver = asyncio.run(main())
    assert set(sink.statuses("ghost")) == {"offline"}
    first = sink.of("ghost", DeviceStatus)[0]
    assert "cannot open" in first.detail
    assert driver.counters["opens"] == 0


def test_silent_port_goes_offline_and_is_reopened(tmp_path):
    stub = ToledoIndicator(rate_hz=20)

    async def main():
        sink = RecordingSink()
        with VirtualSerial(stub, directory=tmp_path, name="scale-s") as line:
            driver = ToledoDriver(toledo("scale-s", line.path, silence_timeout_s=0.3), sink)
            async with supervised(driver):
                await sink.until(lambda: sink.weights("scale-s"), "streaming")
                stub.stop_streaming()
                await sink.until(lambda: driver.counters["silences"] >= 1, "silence noticed")
                await sink.until(lambda: driver.counters["reconnects"] >= 1, "reopened after the silence")
        return sink, driver

    sink, driver = asyncio.run(main())
    statuses = sink.of("scale-s", DeviceStatus)
    silent = [s for s in statuses if getattr(s, "status", "") == "offline" and "silent" in s.detail]
    assert silent, statuses


def test_socket_url_port_from_config_alone():
    """A serial device server on loopback: the same driver, configured `socket://...`."""
    stub = YaohuaIndicator(rate_hz=20, settle_s=0.2)

    async def main():
        sink = RecordingSink()
        with TcpSerial(stub) as server:
            driver = YaohuaDriver(yaohua("scale-tcp", server.url, stable_readings=3), sink)
            async with supervised(driver):
                stub.set_load(8000)
                await sink.until(lambda: any(w.stable and w.value >= 8000 for w in sink.weights("scale-tcp")),
                                 "stable weight over TCP")
                server.disconnect()
                await sink.until(lambda: driver.counters["reconnects"] >= 1, "reconnected after socket drop")
        return driver

    driver = asyncio.run(main())
    assert driver.counters["port_lost"] >= 1


def test_loop_url_port_from_config_alone():
    async def main():
        sink = RecordingSink()
        driver = PlainScannerDriver(plain_scanner("scan-loop", "loop://", terminator="CRLF"), sink)
        async with supervised(driver):
            await sink.until(lambda: driver.port is not None and driver.state == "online", "loop port open")
            driver.port.raw.write(b"]E05901234123457\r\n")  # loop:// hands writes back as reads
            await sink.until(lambda: sink.scans("scan-loop"), "scan over loop://")
        return sink.scans("scan-loop")

    scans = asyncio.run(main())
    assert [(s.data, s.barcode_type) for s in scans] == [("5901234123457", "ean13")]


def test_build_drivers_from_a_node_config(tmp_path):
    config = NodeConfig.model_validate({
        "node": {"id": "gate-01", "site": "port", "role": "gate"},
        "devices": [
            {"kind": "scanner", "name": "scan-1", "port": "/dev/serial/by-id/usb-Zebra-if00"},
            {"kind": "ssi_scanner", "name": "ssi-1", "port": "socket://127.0.0.1:4001"},
            {"kind": "toledo", "name": "scale-1", "port": "rfc2217://127.0.0.1:2217"},
            {"kind": "yaohua", "name": "scale-2", "port": "spy://loop://"},
            {"kind": "wedge", "name": "wedge-1"},
        ],
    })
    drivers = build_drivers(config, RecordingSink())
    assert [(type(d).__name__, d.name) for d in drivers] == [
        ("PlainScannerDriver", "scan-1"), ("SsiScannerDriver", "ssi-1"),
        ("ToledoDriver", "scale-1"), ("YaohuaDriver", "scale-2"),
    ]


class _QuietSink:
    async def emit(self, device, event):
        pass


def _driver(cls, name: str):
    from agent.config.devices import Wedge

    return cls(Wedge(kind="wedge", name=name), _QuietSink())


def test_stop_before_the_supervisor_task_ran_stops_it():
    """A stop() right after start() must not be lost (the task had not begun yet)."""
    import asyncio

    from agent.devices.base import Driver
    from agent.devices.supervisor import Supervisor

    class Forever(Driver):
        async def open(self):
            await asyncio.Event().wait()

        async def close(self):
            pass

    async def main():
        supervisor = Supervisor([_driver(Forever, "forever-1")])
        task = supervisor.start()
        await supervisor.stop()
        await asyncio.wait_for(task, 2)  # hangs forever when the early stop is forgotten

    asyncio.run(main())


def test_stop_ends_a_driver_whose_library_swallowed_the_first_cancel():
    """On Python 3.11 an asyncio.wait_for inside a library (pymodbus has them) can swallow a
    cancel; stop() must still end every driver (it once hung a full suite run under load)."""
    import asyncio

    from agent.devices.base import Driver
    from agent.devices.supervisor import Supervisor

    class Stubborn(Driver):
        swallowed = 0

        async def open(self):
            pass

        async def serve(self):
            while True:
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:
                    if Stubborn.swallowed:
                        raise
                    Stubborn.swallowed += 1  # what the library's wait_for did

        async def close(self):
            pass

    async def main():
        supervisor = Supervisor([_driver(Stubborn, "stubborn-1")])
        task = supervisor.start()
        await asyncio.sleep(0.1)
        await asyncio.wait_for(supervisor.stop(), 5)  # TimeoutError here is the hang
        await asyncio.wait_for(task, 5)
        assert Stubborn.swallowed == 1

    asyncio.run(main())
