"""Topics as values and the envelope every message travels in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from ulid import ULID

from agent.contract import broker, topics
from agent.contract.devices import Scan
from agent.contract.envelope import Command, Envelope, new_id
from agent.contract.topics import Kind, Topic
from agent.errors import TopicError

_segment = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


@settings(deadline=None)  # a busy shared machine must not fail a property
@given(site=_segment, node=_segment, kind=st.sampled_from([k for k in Kind if k is not Kind.STATE]), name=_segment)
def test_named_topic_round_trip(site, node, kind, name):
    topic = Topic(site, node, kind, name)
    text = str(topic)
    assert text == f"portedge/v1/{site}/{node}/{kind}/{name}"
    assert Topic.parse(text) == topic


@settings(deadline=None)  # a busy shared machine must not fail a property
@given(site=_segment, node=_segment)
def test_state_topic_round_trip(site, node):
    assert str(topics.state(site, node)) == f"portedge/v1/{site}/{node}/state"
    assert Topic.parse(f"portedge/v1/{site}/{node}/state") == Topic(site, node, Kind.STATE)


@pytest.mark.parametrize("bad", ["", "+", "#", "a/b", "-lead", "_lead", ".hidden", "x" * 65, "lane 1", "车道", "a+",
                                 "lane-1\n", "\nlane-1"])
def test_bad_segments_are_rejected(bad):
    with pytest.raises(TopicError):
        Topic(bad, "lane-1", Kind.EVT, "scan")
    with pytest.raises(TopicError):
        Topic("yantian", bad, Kind.EVT, "scan")
    with pytest.raises(TopicError):
        Topic("yantian", "lane-1", Kind.EVT, bad)


def test_names_go_with_kinds():
    with pytest.raises(TopicError, match="no name"):
        Topic("yantian", "lane-1", Kind.STATE, "x")
    with pytest.raises(TopicError, match="needs a name"):
        Topic("yantian", "lane-1", Kind.CMD)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("portedge/v2/yantian/lane-1/evt/scan", "unsupported contract version 'v2'"),
        ("portedge/yantian/lane-1/evt/scan", "unsupported contract version"),
        ("other/v1/yantian/lane-1/evt/scan", "not a Port Edge topic"),
        ("portedge/v1/yantian/lane-1", "not a Port Edge topic"),
        ("portedge/v1/yantian/lane-1/evt", "expected portedge/v1/site/node/evt/name"),
        ("portedge/v1/yantian/lane-1/evt/scan/extra", "expected"),
        ("portedge/v1/yantian/lane-1/state/x", "a state topic has no name"),
        ("portedge/v1/yantian/lane-1/log/x", "unknown topic kind 'log'"),
        ("portedge/v1/yantian/+/evt/scan", "node"),
        ("portedge/v1/yantian/lane-1/evt/#", "name"),
    ],
)
def test_parse_refuses_what_the_layout_does_not_allow(text, says):
    with pytest.raises(TopicError, match=says.replace("+", r"\+")):
        Topic.parse(text)


def test_filters_and_acl():
    assert topics.node_filter("yantian", "lane-1", Kind.CMD) == "portedge/v1/yantian/lane-1/cmd/+"
    assert topics.node_filter("yantian", "lane-1", Kind.STATE) == "portedge/v1/yantian/lane-1/state"
    assert topics.site_filter("yantian", Kind.EVT) == "portedge/v1/yantian/+/evt/+"
    assert topics.site_filter("yantian", Kind.STATE) == "portedge/v1/yantian/+/state"
    with pytest.raises(TopicError):
        topics.node_filter("yantian", "+", Kind.CMD)
    acl = broker.acl_lines("yantian")
    # a node may write its outputs and read its inputs, nothing else
    writes = {line.split()[-1].split("/")[4] for line in acl if " write " in line}
    reads = {line.split()[-1].split("/")[4] for line in acl if " read " in line}
    assert writes == {"state", "evt", "req", "res"} and reads == {"cmd", "rsp"}
    assert all("/yantian/%u/" in line for line in acl)  # the site is named, never `+`


def test_every_kind_has_one_publisher():
    assert set(topics.PUBLISHER) == set(Kind)
    assert {k for k, who in topics.PUBLISHER.items() if who == "platform"} == {Kind.CMD, Kind.RSP}


# --- envelope -------------------------------------------------------------------------------


def _scan() -> Scan:
    return Scan(device="scanner-1", data="CSQU3054383")


def test_ids_are_ulids_that_sort_by_creation():
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    ids = [new_id() for _ in range(2000)]
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids), "ids made later must sort later (also within one millisecond)"
    for text in (ids[0], ids[-1]):
        assert len(text) == 26
        assert before <= ULID.from_str(text).datetime <= after


def test_envelope_ids_follow_time_order():
    first = Envelope[Scan](node="lane-1", type="scan", body=_scan())
    second = Envelope[Scan](node="lane-1", type="scan", body=_scan())
    assert first.id < second.id
    assert ULID.from_str(first.id).datetime <= ULID.from_str(second.id).datetime


def test_ts_is_normalised_to_utc():
    beijing = timezone(timedelta(hours=8))
    local = datetime(2026, 11, 27, 16, 30, tzinfo=beijing)
    env = Envelope[Scan](node="lane-1", type="scan", body=_scan(), ts=local)
    assert env.ts.utcoffset() == timedelta(0)
    assert env.ts == local
    assert env.ts.hour == 8
    parsed = Envelope[Scan].model_validate_json(
        '{"node":"lane-1","type":"scan","ts":"2026-11-27T16:30:00+08:00","body":{"device":"s","data":"x"}}')
    assert parsed.ts.isoformat() == "2026-11-27T08:30:00+00:00"


def test_naive_timestamps_are_refused():
    with pytest.raises(ValidationError, match="timezone"):
        Envelope[Scan](node="lane-1", type="scan", body=_scan(), ts=datetime(2026, 11, 27, 8, 30))


def test_extra_fields_are_refused_everywhere():
    good = {"node": "lane-1", "type": "scan", "body": {"device": "s", "data": "x"}}
    Envelope[Scan].model_validate(good)
    with pytest.raises(ValidationError, match="Extra inputs"):
        Envelope[Scan].model_validate({**good, "priority": 1})
    with pytest.raises(ValidationError, match="Extra inputs"):
        Envelope[Scan].model_validate({**good, "body": {"device": "s", "data": "x", "colour": "red"}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        Command[Scan].model_validate({**good, "reply_to": "r", "correlation_id": "c",
                                      "expires_at": "2026-11-27T08:30:00Z", "sneaky": True})


def test_malformed_id_is_refused():
    with pytest.raises(ValidationError):
        Envelope[Scan](id="01JDEVT00000000000000000AU", node="lane-1", type="scan", body=_scan())  # U is not Crockford


def test_command_expiry():
    t = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    cmd = Command[Scan](id="c-1", node="lane-1", type="scan", body=_scan(), reply_to="r", correlation_id="c", expires_at=t)
    assert not cmd.expired(t - timedelta(microseconds=1))
    assert cmd.expired(t)


def test_an_id_is_the_crockford_base32_of_its_millisecond_time_and_random_part():
    """Encoded two characters at a time (a lookup per 10 bits): the time must land in the top
    48 bits and nothing above bit 127, as a one-character-per-5-bits encoding puts them."""
    import time

    from agent.contract.envelope import _CROCKFORD

    for _ in range(200):
        before = time.time_ns() // 1_000_000
        text = new_id()
        value = 0
        for char in text:
            value = value << 5 | _CROCKFORD.index(char)
        assert value < 1 << 128 and text[0] in "01234567"
        assert before <= value >> 80 <= before + 1000  # the time part is this millisecond (or just after)
