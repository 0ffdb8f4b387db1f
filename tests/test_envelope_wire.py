"""The hot path's envelope (contract.envelope.envelope_fields / wire_form / trusted_envelope)
against the model it stands in for: the same bytes for every message a node puts, valid under
the published JSON Schema, and anything the quick check cannot vouch for refused by the model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agent.contract import asyncapi, catalog
from agent.contract.envelope import Envelope, dump, envelope_fields, trusted_envelope, wire_form
from agent.contract.topics import Kind

BUNDLE = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "portedge-v1.schema.json"
#: what a node stores through the outbox in an Envelope (commands and answers travel in other wrappers)
PUT_KINDS = (Kind.EVT, Kind.REQ, Kind.STATE)
TIMES = (
    datetime(2026, 11, 27, 8, 30, 0, 123456, tzinfo=UTC),
    datetime(2026, 11, 27, 8, 30, tzinfo=UTC),  # no fraction: the model writes no ".000000"
    datetime(2026, 11, 27, 16, 30, 0, 1000, tzinfo=timezone(timedelta(hours=8))),  # normalised to UTC
)


def _put_messages() -> list[tuple[asyncapi.WireMessage, catalog.MessageSpec]]:
    out = [(m, catalog.BY_TYPE[m.type]) for m in asyncapi.wire_messages() if m.kind in PUT_KINDS]
    assert {spec.type for _, spec in out} == {s.type for s in catalog.MESSAGES if s.kind in PUT_KINDS}
    return out


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return json.loads(BUNDLE.read_text(encoding="utf-8"))


def _validator(bundle: dict[str, Any], key: str) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource(asyncapi.BUNDLE_ID, Resource.from_contents(bundle, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"{asyncapi.BUNDLE_ID}#/$defs/{key}"}, registry=registry)


@pytest.mark.parametrize("ts", TIMES, ids=["micro", "whole-second", "beijing"])
def test_every_put_message_has_the_models_bytes_and_validates(bundle, ts):
    for message, spec in _put_messages():
        request = spec.kind is Kind.REQ
        extra = {"correlation_id": "c-42", "reply_to": f"portedge/v1/yt/lane-1/rsp/{spec.type}"} if request else {}
        # the body as its model (what the agent puts), or as a dict (what tests and tools put:
        # the outbox always built those as a plain Envelope, which keeps the dict as it is)
        for body, wrapper in ((spec.body.model_validate(spec.example), message.model), (spec.example, Envelope)):
            fields = envelope_fields("lane-1", spec.type, body, ts, **extra)
            fast = wire_form(fields)
            model = wrapper(id=fields["id"], node="lane-1", type=spec.type, body=body, ts=ts, **extra)
            assert fast == dump(model), spec.type
            message.model.model_validate_json(fast)
            errors = [e.message for e in _validator(bundle, message.key).iter_errors(json.loads(fast))]
            assert not errors, f"{spec.type}: {errors}"
            stored = {**fields, "seq": 42}
            assert wire_form(stored) == dump(model.model_copy(update={"seq": 42}))
            # the envelope handed back to the caller is the one the model would have built
            assert trusted_envelope(stored) == Envelope(**{**stored, "ts": ts})
            assert trusted_envelope(stored).model_dump() == Envelope(**{**stored, "ts": ts}).model_dump()


def test_the_seq_placeholder_sits_where_the_writer_stamps_it():
    fields = envelope_fields("lane-1", "scan", {"device": "s", "data": "x"}, TIMES[0])
    assert wire_form(fields).startswith(b'{"id":"%s","node":"lane-1","seq":0,' % fields["id"].encode())


def test_strings_that_need_escaping_are_escaped_as_the_model_does():
    body = {"device": 'quote " back \\ slash', "data": "\u0000\u001f\n\t 沪A1234挂 \u2028 😀", "n": [1.5, 10**20, None, True]}
    fields = envelope_fields('node "7"', "scan", body, TIMES[0], correlation_id="c\n1", reply_to="r/\u00e9")
    model = Envelope(id=fields["id"], node='node "7"', type="scan", body=body, ts=TIMES[0], correlation_id="c\n1",
                     reply_to="r/\u00e9")
    assert wire_form(fields) == dump(model)
    assert json.loads(wire_form(fields))["body"] == body


def test_a_given_id_is_kept_and_a_fresh_one_is_a_valid_ulid():
    given = envelope_fields("lane-1", "scan", {}, TIMES[0], id="01JDGATE0000000000000000AB")
    assert given["id"] == "01JDGATE0000000000000000AB"
    Envelope.model_validate_json(wire_form(envelope_fields("lane-1", "scan", {}, TIMES[0])))


@pytest.mark.parametrize("change", [
    {"ts": datetime(2026, 11, 27, 8, 30)},  # naive
    {"id": "01JDEVT00000000000000000AU"},  # U is not Crockford
    {"id": "01JDEVT00000000000000000A\n"},
    {"node": ""},
    {"node": "n" * 65},
    {"type_": "t" * 65},
    {"correlation_id": "c" * 65},
    {"reply_to": "r" * 257},
])
def test_what_the_quick_check_cannot_vouch_for_is_refused_by_the_model(change):
    args: dict[str, Any] = {"node": "lane-1", "type_": "scan", "body": {"data": "x"}, "ts": TIMES[0], **change}
    with pytest.raises(ValidationError):
        envelope_fields(args.pop("node"), args.pop("type_"), args.pop("body"), args.pop("ts"), **args)


def test_a_body_that_is_neither_model_nor_dict_goes_through_the_model():
    fields = envelope_fields("lane-1", "scan", [1, 2], TIMES[0])  # type: ignore[arg-type]
    assert wire_form(fields) == dump(Envelope(id=fields["id"], node="lane-1", type="scan", body=[1, 2], ts=TIMES[0]))


def test_ids_made_in_one_millisecond_decode_to_it_and_count_up_across_a_carry(monkeypatch):
    """The next id in a millisecond rewrites only its last two characters, unless the +1
    carries past them: an independent ULID parser must read every one as (time, random + 1)."""
    import time

    from ulid import ULID

    from agent.contract import envelope

    ms = time.time_ns() // 1_000_000 + 60_000  # a minute ahead: every id below stays in that millisecond
    start = (7 << 70) | (3 << 10) | 1021  # three steps below a carry out of the last 10 bits
    monkeypatch.setattr(envelope, "_id_last", [ms, start, str(ULID.from_int(ms << 80 | start))])
    ids = [envelope.new_id() for _ in range(6)]
    assert [int(ULID.from_str(text)) for text in ids] == [ms << 80 | (start + k) for k in range(1, 7)]
    assert ids == sorted(ids)
