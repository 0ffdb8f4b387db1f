"""The node's one backoff (agent/backoff.py): broker reconnects draw with full jitter, device
reopens with equal jitter; both capped, never giving up, replayable from a seed."""

import random
import subprocess
import sys
from pathlib import Path

import pytest

from agent.backoff import Backoff, Jitter

ROOT = Path(__file__).resolve().parent.parent


def test_full_jitter_is_capped_replayable_and_spreads_a_fleet():
    a, b = Backoff(0.5, 30.0, random.Random(9)), Backoff(0.5, 30.0, random.Random(9))
    delays = [a.next_delay() for _ in range(40)]
    assert delays == [b.next_delay() for _ in range(40)]
    assert all(0 <= d <= 30.0 for d in delays) and max(delays[10:]) > 15.0
    assert all(d <= 0.5 * 2**i for i, d in enumerate(delays[:6]))
    fleet = sorted(Backoff(0.5, 30.0, random.Random(seed)).next_delay() for seed in range(100))
    assert fleet[-1] - fleet[0] > 0.4, "a fleet would reconnect in lockstep"


def test_equal_jitter_draws_from_the_upper_half_of_each_ceiling():
    a_run, b_run = (Backoff(0.5, 30.0, random.Random(3), Jitter.EQUAL) for _ in range(2))
    a = [a_run.next_delay() for _ in range(10)]
    assert a == [b_run.next_delay() for _ in range(10)]
    for n, delay in enumerate(a):
        ceiling = min(30.0, 0.5 * 2**n)
        assert ceiling / 2 <= delay <= ceiling


def test_a_node_away_for_days_stays_at_the_cap_and_reset_starts_over():
    backoff = Backoff(0.5, 30.0, random.Random(1))
    backoff.attempt = 10_000  # 2**10000 would overflow a float
    assert backoff.ceiling() == 30.0 and backoff.next_delay() <= 30.0
    backoff.reset()
    assert backoff.ceiling() == 0.5


@pytest.mark.parametrize("base, cap", [(0, 1.0), (1.0, 0), (-1.0, 5.0)])
def test_a_non_positive_base_or_cap_is_refused(base, cap):
    with pytest.raises(ValueError, match="positive"):
        Backoff(base, cap, random.Random(1))


def test_the_device_supervisor_does_not_drag_in_the_link():
    """The backoff sits below both users: importing the supervisor loads nothing of agent.link."""
    code = ("import sys, agent.devices.supervisor; "
            "bad = [m for m in sys.modules if m == 'agent.link' or m.startswith('agent.link.')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
