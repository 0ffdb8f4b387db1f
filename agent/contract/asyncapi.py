"""Generate the published wire contract from the catalog: AsyncAPI 3.0.0 and a JSON Schema bundle.

The catalog (agent/contract/catalog.py) and the pydantic models are the only source; the
documents under docs/ are generated, committed, and a test fails when they drift. So this
module must stay deterministic (same models -> byte-identical text) and must never invent a
message, topic or field the catalog does not define.

Point of view: the node's. `send` = the node publishes (state, evt, req, res), `receive` = the
platform publishes (cmd, rsp). Requests and commands carry their answer as an AsyncAPI reply.
Every message appears once under components.messages, keyed "<kind>-<type>" ("state" alone),
with its payload's schema under components.schemas (pydantic's $defs, shared by all messages).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from agent.contract import catalog
from agent.contract.batch import Batch
from agent.contract.envelope import SCHEMA_VERSION, Refusal, Response
from agent.contract.topics import PREFIX, PUBLISHER, VERSION, Kind

ASYNCAPI_VERSION = "3.0.0"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BUNDLE_ID = f"urn:portedge:contract:{VERSION}"
#: the answer to a command that has no answer body of its own: ok, or an error
CommandResult = Response[None]
#: the channel a node refuses a command it does not have on (any name under its res/)
UNKNOWN_COMMAND_KEY = "res-unknown_command"

_DESCRIPTION = f"""\
The MQTT contract between Port Edge nodes (gate lanes, forklift PDAs) and the port platform.
Generated from agent/contract/catalog.py by `portedge contract`; do not edit by hand.

Every topic starts with {PREFIX}/{VERSION}/{{site}}/{{node}}/. Operations are described from the
node's point of view: `send` means the node publishes, `receive` means the platform does.
All publishes are QoS 1 (at least once): drop duplicates by `id` (a copy has the same bytes).
`seq` counts a node's records (evt and res) from 1, so a gap shows a record not yet seen; it
is 0 on the retained state and on requests, which are not records. Commands carry
`expires_at`; a node answers every command on its `reply_to` when that lies in the node's own
res/ (else, for a refusal, the MQTT 5 Response Topic, else res/{{command}}), and refuses a
command it does not have there too (channel res-unknown_command). Everything needed travels
in the payload (MQTT 3.1.1 works); MQTT 5 properties are used where present.
Records (evt) arrive one per message or, several of one topic at once, as a batch: an object
whose only key is `batch`, a list of the envelopes in seq order (message <channel>-batch);
dedupe and audit each record by its own id and seq. State, requests and answers are never
batched. docs/platform-integration.md says more.
"""


@dataclass(frozen=True)
class WireMessage:
    """One message as published: its topic kind and name, payload model and examples."""

    key: str
    kind: Kind
    name: str | None
    type: str
    model: type[BaseModel]
    summary: str
    examples: tuple[tuple[str, dict[str, Any]], ...]
    #: records (evt) may also arrive batched: the batch model (see agent.contract.batch)
    batch: type[BaseModel] | None = None

    @property
    def batch_key(self) -> str:
        return f"{self.key}-batch"

    @property
    def address(self) -> str:
        base = f"{PREFIX}/{VERSION}/{{site}}/{{node}}/{self.kind}"
        return base if self.name is None else f"{base}/{self.name}"

    @property
    def action(self) -> str:
        return "send" if PUBLISHER[self.kind] == "node" else "receive"


def _key(kind: Kind, type_: str) -> str:
    return "state" if kind is Kind.STATE else f"{kind}-{type_}"


def _command_results(spec: catalog.MessageSpec) -> tuple[tuple[str, dict[str, Any]], ...]:
    command = catalog.example_message(spec)
    common = {"node": "lane-1", "seq": 43, "ts": command["ts"], "type": spec.type, "v": SCHEMA_VERSION,
              "correlation_id": command["correlation_id"]}
    return (
        ("done", {"id": "01JDRES00000000000000000AB", **common, "ok": True, "body": None, "error": None}),
        ("refused", {"id": "01JDRES00000000000000000AC", **common, "ok": False, "body": None,
                     "error": {"code": "expired", "reason": f"command expired at {command['expires_at']}"}}),
    )


def _unknown_command_example() -> dict[str, Any]:
    return {"id": "01JDRES00000000000000000AD", "node": "lane-1", "seq": 44, "ts": "2026-11-27T08:30:00Z",
            "type": "self_destruct", "v": SCHEMA_VERSION, "correlation_id": "c-43", "ok": False, "body": None,
            "error": {"code": "unknown_command", "reason": "this node has no command 'self_destruct'"}}


def wire_messages() -> list[WireMessage]:
    """Every message on the wire, in catalog order, each answer right after its question."""
    out: list[WireMessage] = []
    for spec in catalog.MESSAGES:
        out.append(WireMessage(_key(spec.kind, spec.type), spec.kind, spec.topic_name, spec.type, spec.wrapper,
                               spec.summary, (("example", catalog.example_message(spec)),),
                               Batch[spec.body] if spec.kind is Kind.EVT else None))
        if spec.kind is Kind.REQ:
            answer_example = catalog.example_answer(spec)
            if spec.answer is None or answer_example is None:
                raise ValueError(f"request {spec.type!r} has no answer model in the catalog")
            out.append(WireMessage(_key(Kind.RSP, spec.type), Kind.RSP, spec.type, spec.type, Response[spec.answer],
                                   f"The platform's answer to {spec.type}.",
                                   (("example", answer_example),)))
        elif spec.kind is Kind.CMD:
            model = Response[spec.answer] if spec.answer is not None else CommandResult
            out.append(WireMessage(_key(Kind.RES, spec.type), Kind.RES, spec.type, spec.type, model,
                                   f"The node's answer to {spec.type}: done, or refused with a reason.",
                                   _command_results(spec)))
    out.append(WireMessage(UNKNOWN_COMMAND_KEY, Kind.RES, "{command}", "unknown_command", Refusal,
                           "The node's refusal of a command it does not have (any cmd/{command} not in this "
                           "contract): always ok false, error.code unknown_command (or invalid_json / oversize "
                           "when the payload could not be read). Sent to the command's reply_to when that is "
                           "inside the node's own res/, else to res/{command}.",
                           (("refused", _unknown_command_example()),)))
    keys = [m.key for m in out]
    if len(set(keys)) != len(keys):
        raise ValueError(f"two catalog entries share a topic: {sorted(k for k in keys if keys.count(k) > 1)}")
    return out


def _schemas(messages: list[WireMessage], ref_template: str) -> tuple[dict[str, dict], dict[str, Any]]:
    """(message key -> {"$ref": ...} of its payload, every schema by name, sorted)."""
    models = list(dict.fromkeys([m.model for m in messages] + [m.batch for m in messages if m.batch is not None]))
    refs, top = models_json_schema([(model, "validation") for model in models], ref_template=ref_template)
    by_key = {m.key: refs[(m.model, "validation")] for m in messages}
    by_key.update({m.batch_key: refs[(m.batch, "validation")] for m in messages if m.batch is not None})
    defs = top.get("$defs", {})
    return by_key, {name: defs[name] for name in sorted(defs)}


def _ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def _batch_example(m: WireMessage) -> dict[str, Any]:
    """Two records of the channel's example in one batch: ids and seqs of their own."""
    first = m.examples[0][1]
    second = {**first, "id": first["id"][:-2] + "AC", "seq": first["seq"] + 1}
    return {"batch": [first, second]}


def _message_keys(m: WireMessage) -> list[str]:
    return [m.key] + ([m.batch_key] if m.batch is not None else [])


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document as plain data (ordered, YAML/JSON-ready)."""
    messages = wire_messages()
    payloads, schemas = _schemas(messages, "#/components/schemas/{model}")
    by_key = {m.key: m for m in messages}
    channels: dict[str, Any] = {}
    for m in messages:
        channels[m.key] = {
            "address": m.address,
            "summary": m.summary,
            "messages": {k: _ref(f"#/components/messages/{k}") for k in _message_keys(m)},
            "parameters": {"site": _ref("#/components/parameters/site"), "node": _ref("#/components/parameters/node"),
                           **({"command": _ref("#/components/parameters/command")} if "{command}" in m.address else {})},
        }
    operations: dict[str, Any] = {}
    for m in messages:
        if m.kind in (Kind.RSP, Kind.RES) and m.key != UNKNOWN_COMMAND_KEY:
            continue  # answers are described as the reply of their request or command
        op: dict[str, Any] = {
            "action": m.action,
            "channel": _ref(f"#/channels/{m.key}"),
            "summary": m.summary,
            "messages": [_ref(f"#/channels/{m.key}/messages/{k}") for k in _message_keys(m)],
            "bindings": {"mqtt": {"qos": 1, "retain": m.kind is Kind.STATE, "bindingVersion": "0.2.0"}},
        }
        answer = {Kind.REQ: Kind.RSP, Kind.CMD: Kind.RES}.get(m.kind)
        if answer is not None:
            reply = by_key[_key(answer, m.type)]
            op["reply"] = {"channel": _ref(f"#/channels/{reply.key}"),
                           "messages": [_ref(f"#/channels/{reply.key}/messages/{reply.key}")]}
        operations[f"{m.action}-{m.key}"] = op
    components_messages: dict[str, Any] = {}
    for m in messages:
        entry: dict[str, Any] = {"name": m.type, "title": f"{m.kind}/{m.type}" if m.name else "state",
                                 "summary": m.summary, "contentType": "application/json",
                                 "payload": payloads[m.key]}
        if m.kind is not Kind.EVT and m.kind is not Kind.STATE:
            entry["correlationId"] = {"description": "pairs a request or command with its answer",
                                      "location": "$message.payload#/correlation_id"}
        entry["examples"] = [{"name": name, "payload": payload} for name, payload in m.examples]
        components_messages[m.key] = entry
        if m.batch is not None:
            components_messages[m.batch_key] = {
                "name": f"{m.type}-batch", "title": f"{m.kind}/{m.type} (batch)",
                "summary": f"Several {m.type} records in one message, each with its own id and seq "
                           "(an object whose only key is `batch`).",
                "contentType": "application/json", "payload": payloads[m.batch_key],
                "examples": [{"name": "batch", "payload": _batch_example(m)}]}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": BUNDLE_ID,
        "info": {"title": "Port Edge wire contract", "version": f"{VERSION}.{SCHEMA_VERSION}", "description": _DESCRIPTION,
                 "license": {"name": "Apache-2.0"}},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:1883", "protocol": "mqtt", "protocolVersion": "5",
                              "description": "a broker on this machine (the demo and the test suite)"}},
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": components_messages,
            "schemas": schemas,
            "parameters": {
                "site": {"description": "the port site (terminal) the node belongs to", "examples": ["yantian"]},
                "node": {"description": "the node id: one gate lane PC or one PDA", "examples": ["lane-1"]},
                "command": {"description": "the name of a command the node does not have", "examples": ["self_destruct"]},
            },
        },
    }


def jsonschema_bundle() -> dict[str, Any]:
    """One JSON Schema (2020-12) document: `$defs/<message key>` is each message's payload
    schema, and the models they share sit beside them. Validate a payload against
    `{"$ref": "urn:portedge:contract:v1#/$defs/evt-scan"}` with this bundle registered."""
    messages = wire_messages()
    payloads, schemas = _schemas(messages, "#/$defs/{model}")
    defs: dict[str, Any] = {}
    for m in messages:
        if m.batch is None:
            defs[m.key] = {"title": f"{m.address}", "description": m.summary, **payloads[m.key]}
        else:  # a record alone or a batch of them: exactly one of the two matches
            defs[m.key] = {"title": f"{m.address}", "description": m.summary + " One record alone, or a batch.",
                           "oneOf": [payloads[m.key], payloads[m.batch_key]]}
    clash = set(defs) & set(schemas)
    if clash:
        raise ValueError(f"message keys clash with model names: {sorted(clash)}")
    defs.update(schemas)
    return {"$schema": SCHEMA_DIALECT, "$id": BUNDLE_ID, "title": "Port Edge wire contract: message payloads",
            "description": "Generated from agent/contract/catalog.py by `portedge contract`; do not edit by hand.",
            "$defs": defs}


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks (readable descriptions)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

FORMATS = ("asyncapi", "jsonschema", "openapi")


def render(fmt: str = "asyncapi") -> str:
    """The contract as text: AsyncAPI YAML, the JSON Schema bundle as JSON, or the camera push
    API as OpenAPI YAML."""
    if fmt == "asyncapi":
        return yaml.dump(asyncapi_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if fmt == "openapi":
        from agent.contract.openapi import openapi_document

        return yaml.dump(openapi_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if fmt == "jsonschema":
        return json.dumps(jsonschema_bundle(), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown contract format {fmt!r}; known: {', '.join(FORMATS)}")
