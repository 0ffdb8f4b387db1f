"""What an idle gate lane node leaves out of memory (issue 14, docs/benchmarks.md "Idle lane
node"): prometheus_client until something counts, the card reader's codec on a lane without
one, GS1's tables on any lane, and every wire model's validator until its first use."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import agent.runtime, agent.gate.station, agent.contract.catalog
from agent.contract import personnel, tasks
left_out = [m for m in ("prometheus_client", "agent.codecs.sam", "biip") if m in sys.modules]
built = [m.__name__ for m in (personnel.PersonPassage, tasks.TaskUpdate) if m.__pydantic_complete__]
personnel.PersonAlarm.model_validate({"lane": "apron-1", "area": "apron", "what": "fire_alarm"})
print(left_out, built, personnel.PersonAlarm.__pydantic_complete__)
"""


def test_a_lane_node_imports_and_builds_only_what_it_uses():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split("\n")[0] == "[] [] True", out.stdout + out.stderr


def test_counting_starts_once_and_the_instruments_count():
    from agent import metrics

    registry = metrics.count()
    assert metrics.count() is registry and metrics.REGISTRY is registry
    before = registry.get_sample_value("portedge_publishes_total") or 0.0
    metrics.PUBLISHES.inc(3)
    assert registry.get_sample_value("portedge_publishes_total") == before + 3
