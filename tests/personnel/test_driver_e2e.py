"""The driver step end to end: a truck lane on its firmware stubs (LaneRig: gate controller as
a Modbus peer on a pty pair, Toledo on a pty, OCR cameras over HTTP) with an ID card reader
stub on a pty at the lane, a real mosquitto and the platform simulator. The appointment binds
the driver: the right driver's card opens the barrier, another driver's card does not, and no
clear ID number reaches the platform."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from agent.clock import SYSTEM_CLOCK
from agent.config import parse
from agent.gate.events import State
from agent.personnel.privacy import SiteKey
from agent.runtime import NodeRuntime
from firmware_stubs.idcard_reader import IdCardReader
from simulators.lane_rig import LaneRig
from simulators.platform import PlatformSim, Preadvice
from simulators.platform.orders import Truck, container_number, plate
from simulators.vserial import VirtualSerial

from .kit import DATED, VALID
from .rig import until

FAST = {"verify_s": 0.8, "holdoff_s": 0.3, "identify_s": 8, "weigh_s": 8, "pass_s": 15, "reconcile_s": 1.0,
        "debounce_s": 0.4, "permit_lookup_s": 1.0, "driver_s": 15}


@pytest.mark.slow  # two trucks, the second waits out its refused open
def test_the_appointment_binds_the_driver(mosquitto, tmp_path):
    key_hex = random.Random(9).randbytes(32).hex()
    (tmp_path / "site.key").write_text(key_hex)
    key = SiteKey(bytes.fromhex(key_hex))
    rng = random.Random(4)
    trucks = [Truck(plate=plate(rng), containers=[container_number(rng)], type="DI", weight_kg=30000.0,
                    pre_advised=True) for _ in range(2)]

    async def main():
        reader = IdCardReader()
        platform = await asyncio.to_thread(PlatformSim(mosquitto.url, "e2e", rng=random.Random(2)).start)
        line = VirtualSerial(reader, directory=tmp_path, name="id-lane").start()
        rig = LaneRig("lane-1", "e2e", tmp_path / "lane-1", mosquitto.url, random.Random(1), misread_rate=0.0,
                      travel_s=0.3, settle_s=0.3,
                      gate={**FAST, "driver_reader": "id-lane", "site_key_file": str(tmp_path / "site.key")},
                      extra_toml=f'[[devices]]\nname = "id-lane"\nkind = "idcard_reader"\nport = "{line.path}"\n'
                                 f'poll_s = 0.05\nreply_timeout_s = 0.4\n')
        node = None
        try:
            await rig.start()
            node = NodeRuntime(parse(rig.config_path.read_text(), str(rig.config_path)), clock=SYSTEM_CLOCK,
                               rng=random.Random(7))
            await node.start()
            await until(lambda: node.link.connected and all(d.state == "online" for d in node.drivers), 20,
                        "the lane up")
            driver = key.person_key("id_card", VALID["id_number"])
            for truck in trucks:
                platform.add_preadvice(Preadvice(truck.plate, truck.containers, driver_key=driver))
            outcomes = []
            for truck, card in zip(trucks, (VALID, DATED), strict=True):
                drive = asyncio.ensure_future(rig.drive(truck, wait_open_s=10))
                await until(lambda: node.station.lane.state is State.WEIGHED, 20, "the lane waiting for the driver")
                reader.remove()
                reader.present(card)
                outcomes.append(await drive)
                await until(lambda: node.station.lane.state is State.IDLE or node.station.lane.state is State.TROUBLE,
                            20, "the truck done")
            requests = platform.ledger.bodies("gate_verify", "lane-1")
            return outcomes, requests, [json.dumps(p) for p in requests]
        finally:
            if node is not None:
                await asyncio.wait_for(node.close(), 60)
            await rig.stop()
            line.close()
            await asyncio.to_thread(platform.stop)
            platform.ledger.close()

    outcomes, requests, raw = asyncio.run(main())
    assert outcomes == [True, False], "the bound driver passes, another driver does not"
    assert [r["driver"]["masked"] for r in requests] == ["110105********002X", "110105********0010"]
    assert requests[0]["driver"]["card_valid_until"] == "long_term"
    assert not any(n in text for text in raw for n in (VALID["id_number"], DATED["id_number"]))
