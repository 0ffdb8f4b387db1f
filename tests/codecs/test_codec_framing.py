"""Every codec, the same proofs: vectors whole, split everywhere, byte by byte, among garbage,
with a broken check; fuzzing with frames embedded in garbage and with fully random bytes."""

from __future__ import annotations

import random

import pytest
from codec_helpers import bytewise, cut_at, feed_chunks, frames, garbled_bytes
from codec_specs import ALL, Spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

by_name = pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)


def vector_cases(specs=ALL):
    return [
        pytest.param(spec, wire, event, id=f"{spec.name}-{i}")
        for spec in specs
        for i, (wire, event) in enumerate(spec.vectors)
    ]


def run(spec: Spec, chunks) -> list:
    dec = spec.make()
    events = feed_chunks(dec, chunks, spec.bound)
    if spec.conserves:
        fed = b"".join(chunks)
        accounted = sum(len(e.raw) for e in frames(events)) + len(garbled_bytes(events))
        assert accounted + dec.buffered == len(fed), "bytes lost or invented"
    return events


@pytest.mark.parametrize(("spec", "wire", "event"), vector_cases())
def test_vector_whole_split_and_bytewise(spec, wire, event):
    assert frames(run(spec, [wire])) == [event]
    for k in range(len(wire) + 1):
        assert frames(run(spec, [wire[:k], wire[k:]])) == [event], f"split at {k}"
    assert frames(run(spec, bytewise(wire))) == [event]


@pytest.mark.parametrize(("spec", "wire", "event"), vector_cases())
def test_vector_among_garbage(spec, wire, event):
    g = spec.garbage
    stream = g + wire + g + wire + g
    for chunks in ([stream], bytewise(stream)):
        events = run(spec, chunks)
        assert frames(events) == [event, event]
        assert garbled_bytes(events), "garbage must be reported, not silently dropped"


@pytest.mark.parametrize(("spec", "wire", "event"), vector_cases())
def test_broken_check_gives_no_frame_and_the_next_frame_survives(spec, wire, event):
    bad = spec.corrupt(wire)
    for chunks in ([bad + wire], bytewise(bad + wire)):
        events = run(spec, chunks)
        assert frames(events) == [event]
        assert garbled_bytes(events)


# A plain line has no start marker: a lost terminator merges two lines, so plain is left out.
@pytest.mark.parametrize(("spec", "wire", "event"), vector_cases([s for s in ALL if s.conserves]))
def test_a_frame_cut_short_does_not_swallow_the_next(spec, wire, event):
    for lost in (1, 3, len(wire) // 2):
        stream = wire[:-lost] + wire
        for chunks in ([stream], bytewise(stream)):
            assert frames(run(spec, chunks)) == [event], f"{lost} bytes lost"


@by_name
def test_frames_embedded_in_garbage_all_come_back(spec):
    @FUZZ
    @given(
        parts=st.lists(st.tuples(spec.garbage_st, spec.frames), max_size=6),
        tail=spec.garbage_st,
        cuts=st.lists(st.integers(0, 10_000), max_size=8),
    )
    def check(parts, tail, cuts):
        stream = b"".join(g + wire for g, (wire, _) in parts) + tail
        expected = [event for _, (_, event) in parts]
        assert frames(run(spec, [stream])) == expected
        assert frames(run(spec, cut_at(stream, cuts))) == expected

    check()


@by_name
def test_random_bytes_never_crash_and_stay_bounded(spec):
    @FUZZ
    @given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 10_000), max_size=10))
    def check(data, cuts):
        whole = run(spec, [data])
        chunked = run(spec, cut_at(data, cuts))
        if spec.name != "ssi":  # SSI's documented limit: see agent/codecs/ssi.py
            assert frames(chunked) == frames(whole)
        dec = spec.make()
        dec.feed(data)
        dec.flush()
        assert dec.buffered == 0

    check()


@by_name
def test_a_long_random_stream_keeps_the_buffer_bounded(spec):
    rng = random.Random(4)
    dec = spec.make()
    for _ in range(300):
        dec.feed(rng.randbytes(rng.randint(0, 64)))
        assert dec.buffered <= spec.bound
