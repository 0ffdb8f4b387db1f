"""The stability rule for indicators without a motion flag."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.codecs.stability import StabilityDetector


def feed(det, readings):
    return [det.update(v, t) for t, v in readings]


def test_stable_after_n_readings_within_one_division():
    det = StabilityDetector(readings=3, window_s=2.0, division=20)
    assert feed(det, [(0.0, 32480), (0.5, 32500), (1.0, 32480), (1.5, 32500)]) == [
        False,
        False,
        True,
        True,
    ]


def test_span_of_two_divisions_is_not_stable_even_if_within_one_of_the_mean():
    det = StabilityDetector(readings=3, window_s=5.0, division=10)
    assert feed(det, [(0, 100), (1, 110), (2, 120)]) == [False, False, False]


def test_exactly_one_division_apart_is_stable_despite_float_rounding():
    det = StabilityDetector(readings=2, window_s=5.0, division=0.01)
    assert feed(det, [(0, 20.00), (1, 20.01)]) == [False, True]


def test_a_jump_starts_over():
    det = StabilityDetector(readings=3, window_s=10.0, division=20)
    feed(det, [(0, 1000), (1, 1000), (2, 1000)])
    assert feed(det, [(3, 30000), (4, 30000), (5, 30000)]) == [False, False, True]


def test_readings_too_far_apart_in_time_are_not_stable():
    det = StabilityDetector(readings=3, window_s=1.0, division=20)
    # at 1.9 the third-last reading (0.8) is older than 1 s; at 2.2 the last three fit
    assert feed(det, [(0, 500), (0.8, 500), (1.6, 500), (1.9, 500), (2.2, 500)]) == [
        False,
        False,
        False,
        False,
        True,
    ]


def test_time_going_backwards_or_nan_starts_over():
    det = StabilityDetector(readings=2, window_s=10.0, division=1)
    assert feed(det, [(5, 10), (6, 10), (4, 10), (4.5, 10)]) == [False, True, False, True]
    assert det.update(float("nan"), 5) is False
    assert det.update(10, 5.5) is False


def test_bad_settings_are_refused():
    for args in ((0, 1.0, 1.0), (3, 0.0, 1.0), (3, 1.0, 0.0)):
        with pytest.raises(ValueError):
            StabilityDetector(*args)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(st.floats(0, 0.5), st.floats(-1e6, 1e6)), max_size=30),
    st.integers(1, 5),
    st.floats(0.5, 5),
    st.floats(0.01, 100),
)
def test_stable_means_the_last_n_readings_agree(steps, n, window, division):
    det = StabilityDetector(n, window, division)
    t, history = 0.0, []
    for dt, v in steps:
        t += dt
        history.append((t, v))
        stable = det.update(v, t)
        last = history[-n:]
        agrees = (
            len(last) == n
            and max(x for _, x in last) - min(x for _, x in last) <= division * (1 + 1e-9) + 1e-9
            and last[0][0] >= t - window
        )
        assert stable == agrees
