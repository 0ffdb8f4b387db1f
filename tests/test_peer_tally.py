"""The peer benchmark's loss counter (bench/peers/tally.py): what a producer accepted against
what the broker delivered. The benchmark itself (a pip-installed peer, a broker, kill -9 of
real producers) is not run here; its counting is."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

TALLY = Path(__file__).resolve().parents[1] / "bench" / "peers" / "tally.py"
_spec = importlib.util.spec_from_file_location("peer_tally", TALLY)
assert _spec and _spec.loader
tally_mod = importlib.util.module_from_spec(_spec)
sys.modules["peer_tally"] = tally_mod  # dataclasses look their module up
_spec.loader.exec_module(tally_mod)
Marks, tally, event_body = tally_mod.Marks, tally_mod.tally, tally_mod.event_body


def test_lost_is_accepted_and_never_received():
    accepted = bytes([1, 1, 1, 0, 1, 0])
    received = bytes([1, 0, 3, 1, 0, 0])  # #2 came three times, #3 came but was never acked
    t = tally(accepted, received)
    assert (t.accepted, t.received, t.lost, t.unacknowledged, t.duplicates) == (4, 2, 2, 1, 2)


def test_marks_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        tally(b"\x01", b"\x01\x00")


def test_event_numbers_are_found_in_every_envelope_and_outside_ones_ignored(tmp_path):
    marks = Marks(tmp_path / "received", 10, create=True)
    base = 5_000_000
    one_record = json.dumps({"id": "x", "seq": 3, "body": event_body(base + 1, 10)}).encode()
    pack = json.dumps({"dev-2": [{"ts": 1, "values": event_body(base + 2, 10)},
                                 {"ts": 2, "values": event_body(base + 3, 10)}]}).encode()
    as_string = json.dumps({"records": [json.dumps({"body": event_body(base + 4, 10)})]}).encode()
    other_trial = json.dumps({"body": event_body(base - 1, 10)}).encode()
    found = [marks.mark_numbers(p, base) for p in (one_record, pack, pack, as_string, other_trial)]
    assert found == [1, 2, 2, 1, 0]
    assert marks.snapshot() == bytes([0, 1, 2, 2, 1, 0, 0, 0, 0, 0])
    assert marks.seen() == 4
    marks.close()


def test_a_mark_survives_the_marker_being_killed(tmp_path):
    """The producer marks an event as its storage acknowledges it; kill -9 must not undo that."""
    Marks(tmp_path / "accepted", 4, create=True).close()
    script = ("import os, signal, sys; sys.path.insert(0, sys.argv[1]); from tally import Marks; "
              "m = Marks(sys.argv[2], 4); m.mark(0); m.mark(2); os.kill(os.getpid(), signal.SIGKILL)")
    done = subprocess.run([sys.executable, "-c", script, str(TALLY.parent), str(tmp_path / "accepted")], timeout=30)
    assert done.returncode == -9
    reader = Marks(tmp_path / "accepted", 4)
    assert reader.snapshot() == bytes([1, 0, 1, 0])
    reader.close()


def test_a_count_saturates_instead_of_wrapping(tmp_path):
    marks = Marks(tmp_path / "m", 1, create=True)
    for _ in range(300):
        marks.mark(0)
    marks.mark(7)  # outside the trial: ignored
    assert marks.snapshot() == bytes([255])
    marks.close()
