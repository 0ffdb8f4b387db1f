"""The generated contract: committed documents match the catalog, examples validate, drift is caught."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import Field
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agent.cli.main import main
from agent.contract import asyncapi, catalog, devices
from agent.contract.topics import Kind, Topic

ROOT = Path(__file__).resolve().parents[1]
ASYNCAPI = ROOT / "docs" / "asyncapi.yaml"
BUNDLE = ROOT / "docs" / "schemas" / "portedge-v1.schema.json"
DOC_URI = "urn:test:asyncapi"


def _validator(document: dict, pointer: str, uri: str) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource(uri, Resource.from_contents(document, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"{uri}#{pointer}"}, registry=registry)


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))


def test_committed_asyncapi_is_the_generated_one():
    assert ASYNCAPI.read_text(encoding="utf-8") == asyncapi.render("asyncapi"), \
        "docs/asyncapi.yaml drifted: run `portedge contract -o docs/asyncapi.yaml`"


def test_committed_schema_bundle_is_the_generated_one():
    assert BUNDLE.read_text(encoding="utf-8") == asyncapi.render("jsonschema"), \
        "docs/schemas drifted: run `portedge contract -o docs/schemas/portedge-v1.schema.json`"


def test_generation_is_deterministic():
    assert asyncapi.render("asyncapi") == asyncapi.render("asyncapi")
    assert asyncapi.render("jsonschema") == asyncapi.render("jsonschema")


def test_document_shape(document):
    assert document["asyncapi"] == "3.0.0"
    assert document["defaultContentType"] == "application/json"
    assert document["channels"]["evt-scan"]["address"] == "portedge/v1/{site}/{node}/evt/scan"
    assert document["channels"]["state"]["address"] == "portedge/v1/{site}/{node}/state"
    # every catalog entry has a channel, and requests/commands have their answer channel
    for spec in catalog.MESSAGES:
        key = "state" if spec.kind is Kind.STATE else f"{spec.kind}-{spec.type}"
        assert key in document["channels"]
        assert key in document["components"]["messages"]
    assert document["operations"]["send-evt-scan"]["action"] == "send"
    assert document["operations"]["receive-cmd-barrier_open"]["action"] == "receive"
    assert document["operations"]["send-state"]["bindings"]["mqtt"]["retain"] is True
    reply = document["operations"]["send-req-gate_verify"]["reply"]
    assert reply["channel"] == {"$ref": "#/channels/rsp-gate_verify"}
    reply = document["operations"]["receive-cmd-lane_mode"]["reply"]
    assert reply["channel"] == {"$ref": "#/channels/res-lane_mode"}


def test_addresses_are_real_topics(document):
    """Filling in the parameters yields a topic the Topic parser accepts, of the right kind."""
    for key, channel in document["channels"].items():
        topic = Topic.parse(channel["address"].format(site="yantian", node="lane-1", command="self_destruct"))
        assert key.split("-", 1)[0] == str(topic.kind)


def test_every_ref_resolves(document):
    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    target = document
                    for part in v.removeprefix("#/").split("/"):
                        target = target[part]  # KeyError = dangling reference
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(document)


def test_every_example_validates_against_its_payload_schema(document):
    count = 0
    for key, message in document["components"]["messages"].items():
        validator = _validator(document, f"/components/messages/{key}/payload", DOC_URI)
        assert message["examples"], key
        for example in message["examples"]:
            errors = [e.message for e in validator.iter_errors(example["payload"])]
            assert not errors, f"{key} example {example['name']}: {errors}"
            count += 1
        # and the schema is not vacuous: an unknown field in the example is refused
        assert list(validator.iter_errors({**message["examples"][0]["payload"], "surprise": 1})), key
    assert count >= len(catalog.MESSAGES)


def test_examples_also_validate_with_pydantic():
    for message in asyncapi.wire_messages():
        for _name, payload in message.examples:
            message.model.model_validate(payload)


def test_bundle_validates_the_same_examples():
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    for message in asyncapi.wire_messages():
        validator = _validator(bundle, f"/$defs/{message.key}", asyncapi.BUNDLE_ID)
        for _name, payload in message.examples:
            assert not list(validator.iter_errors(payload)), message.key
        assert list(validator.iter_errors({**message.examples[0][1], "body": "not an object"})), message.key


# --- the CLI -------------------------------------------------------------------------------


def test_cli_writes_to_stdout(capsys):
    assert main(["contract"]) == 0
    assert capsys.readouterr().out == asyncapi.render("asyncapi")
    assert main(["contract", "--format", "jsonschema"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"] == asyncapi.BUNDLE_ID


def test_cli_writes_a_file_then_checks_it(tmp_path, capsys):
    target = tmp_path / "out" / "asyncapi.yaml"
    assert main(["contract", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == asyncapi.render("asyncapi")
    assert main(["contract", "--check", str(target)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["contract", "--check", str(ASYNCAPI)]) == 0
    assert main(["contract", "--check", str(BUNDLE)]) == 0  # format follows the .json extension


def test_check_fails_on_a_missing_file(tmp_path, capsys):
    assert main(["contract", "--check", str(tmp_path / "absent.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_check_fails_when_a_model_changes(monkeypatch, capsys):
    class Scan(devices.Scan):  # same name, one field more: as if someone edited the model
        tray: str = Field(default="", description="added without regenerating the docs")

    changed = [dataclasses.replace(s, body=Scan) if s.type == "scan" else s for s in catalog.MESSAGES]
    monkeypatch.setattr(catalog, "MESSAGES", changed)
    assert main(["contract", "--check", str(ASYNCAPI)]) == 1
    err = capsys.readouterr().err
    assert "out of date" in err
    assert "components.schemas.Scan.properties.tray: added" in err
    assert main(["contract", "--check", str(BUNDLE)]) == 1
    assert "$defs.Scan.properties.tray: added" in capsys.readouterr().err


def test_structural_summary_names_removed_and_changed_keys():
    from agent.cli.contract import structural_changes

    old = "a:\n  b: 1\n  c: 2\nd: [1]\n"
    new = "a:\n  b: 3\nd: [1, 2]\ne: x\n"
    assert structural_changes(old, new) == ["a.b: changed", "a.c: removed", "d: changed", "e: added"]


def test_check_fails_when_a_summary_changes(monkeypatch, capsys):
    changed = [dataclasses.replace(s, summary="A gate decision.") if s.type == "lane_mode" else s
               for s in catalog.MESSAGES]
    monkeypatch.setattr(catalog, "MESSAGES", changed)
    assert main(["contract", "--check", str(ASYNCAPI)]) == 1
    assert "A gate decision." in capsys.readouterr().err


def test_duplicate_topics_are_refused(monkeypatch):
    monkeypatch.setattr(catalog, "MESSAGES", [*catalog.MESSAGES, catalog.BY_TYPE["scan"]])
    with pytest.raises(ValueError, match="share a topic"):
        asyncapi.wire_messages()


def test_the_platform_guide_names_every_error_code_and_channel_kind():
    """docs/platform-integration.md is the integrator's page: a new error code or topic kind
    in the contract must be explained there too."""
    from agent.contract.envelope import ErrorBody

    guide = (ROOT / "docs" / "platform-integration.md").read_text(encoding="utf-8")
    for code in ErrorBody.model_fields["code"].annotation.__args__:
        assert f"`{code}`" in guide, f"docs/platform-integration.md does not name error code {code!r}"
    for kind in Kind:
        address = "portedge/v1/{site}/{node}/" + (str(kind) if kind is Kind.STATE else f"{kind}/")
        assert address in guide, f"docs/platform-integration.md does not show the {kind} topic"
