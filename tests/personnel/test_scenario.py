"""The people scenario (simulators/scenarios/people.toml) end to end on mosquitto: every kind
of person, the platform silent, the reader unplugged; the report says what happened and the
ledger holds no clear ID number."""

from __future__ import annotations

import asyncio
import json

import pytest

from simulators.people_traffic import id_number
from simulators.port import PortSim
from simulators.scenario import SCENARIO_DIR, load_scenario


def test_id_numbers_made_for_people_are_valid():
    import random

    from stdnum.cn import ric

    rng = random.Random(3)
    assert all(ric.is_valid(id_number(rng)) for _ in range(200))


@pytest.mark.slow  # a 30 s scenario plus its drain
def test_people_scenario(mosquitto, tmp_path):
    scenario = load_scenario(SCENARIO_DIR / "people.toml")
    sim = PortSim(scenario, tmp_path / "port", broker=mosquitto.url, drain_s=20)

    async def main():
        report = await sim.run()
        return report, sim.platform.ledger.bodies("person_passage", "apron-1")

    report, passes = asyncio.run(main())
    people = report["turnstiles"]["apron-1"]
    assert report["ok"], report["problems"]
    assert sum(people["people"].values()) >= 10
    assert people["outcomes"].get("passed", 0) >= 3 and people["counted_passages_over_one"] == 0
    assert "invalid_card" in people["outcomes"] or people["people"].get("expired", 0) == 0
    assert people["decided_offline"] >= 1 and people["reconciled"] >= 1
    assert report["delivery"]["apron-1"]["gap_count"] == 0
    clear = [p for p in passes if any(k in json.dumps(p) for k in ("11010519", "11010520"))]
    assert clear == [], "no clear ID number in any record"
