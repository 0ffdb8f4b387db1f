"""SIGKILL at random points: nothing `put` returned for is lost; duplicates are re-sends of
in-flight rows with the same id and seq; the node's seq has no gap. Records batched on the wire
(rows deleted only on the batch's PUBACK) and one per message."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.contract.topics import Kind, site_filter
from tests.link.conftest import BATCHING
from tests.link.test_link_delivery import check_stream

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("agent_proc.py")


def spawn(url: str, db: Path, puts: int, batch: str = BATCHING[0]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(SCRIPT), url, str(db), str(puts), batch], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)


@pytest.mark.parametrize("batch", BATCHING)
def test_sigkill_five_times_loses_nothing_that_was_promised(mosquitto, collector_factory, tmp_path, batch):
    rng = random.Random(20261127)
    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.EVT)])
    db = tmp_path / "lane.db"
    promised: dict[str, int] = {}
    for _ in range(5):
        proc = spawn(mosquitto.url, db, 1_000_000, batch)
        kill_after = rng.randint(200, 4000)
        seen = 0
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("PUT "):
                _, seq, msg_id = line.split()
                promised[msg_id] = int(seq)
                seen += 1
                if seen >= kill_after:
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    # a last run only drains what the killed ones left behind
    proc = spawn(mosquitto.url, db, 0, batch)
    try:
        collector.wait(lambda: promised.keys() <= {p["id"] for p in collector.payloads("/evt/")}, 60,
                       "promised events missing after the restarts")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        proc.stdout.close()
    received = collector.payloads("/evt/")
    result = check_stream(received, set(promised))
    by_id = {p["id"]: p["seq"] for p in received}
    assert all(by_id[i] == s for i, s in promised.items()), "an event arrived with another seq than put returned"
    assert len(promised) >= 5 * 200
    assert result["unique"] >= len(promised)
    batches = sum(1 for _t, raw in collector.messages if raw.startswith(b'{"batch":'))
    assert (batches > 0) == (batch == "batched"), f"{batches} batch messages with batching {batch}"
