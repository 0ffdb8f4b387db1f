"""The camera push API is part of the contract: docs/camera-openapi.yaml is generated from
agent/contract/camera.py (drift-tested), the listener answers with the contract's statuses and
error names only, and what a real listener answers validates against the published document."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agent.cli.main import main
from agent.contract import asyncapi
from agent.contract.camera import PUSH_ERRORS
from tests.devices.test_camera import GOOD, Sink, post, raw, started, stopped

ROOT = Path(__file__).resolve().parents[1]
OPENAPI = ROOT / "docs" / "camera-openapi.yaml"
#: the modules that answer a camera
ANSWERING = [ROOT / "agent" / "codecs" / "camera_post.py", ROOT / "agent" / "devices" / "camera.py"]


def test_committed_openapi_is_the_generated_one(capsys):
    assert OPENAPI.read_text(encoding="utf-8") == asyncapi.render("openapi"), \
        "docs/camera-openapi.yaml drifted: run `portedge contract -o docs/camera-openapi.yaml`"
    assert main(["contract", "--check", str(OPENAPI)]) == 0  # the format follows the file's name
    assert "up to date" in capsys.readouterr().out


def test_the_integration_guide_lists_every_refusal():
    guide = (ROOT / "docs" / "platform-integration.md").read_text(encoding="utf-8")
    for e in PUSH_ERRORS:
        assert f"| {e.status} | `{e.error}`: {e.meaning} |" in guide, f"docs/platform-integration.md: {e.error}"


def test_the_listener_refuses_only_with_the_contracts_statuses_and_names():
    """Read every `PushRejected(status, "name", ...)` (and the busy answer) the listener's code can
    raise: each must be in the contract, and each contract entry must be raised somewhere."""
    raised = set()
    for path in ANSWERING:
        text = path.read_text(encoding="utf-8")
        raised |= {(int(status), name) for status, name in re.findall(r'PushRejected\((\d{3}), "(\w+)"', text)}
    raised.add((503, "busy"))  # busy_answer(): sent before a request is read
    documented = {(e.status, e.error) for e in PUSH_ERRORS}
    assert raised == documented, f"undocumented: {sorted(raised - documented)}; never sent: {sorted(documented - raised)}"
    assert len(raised) >= 10  # the regex still finds the calls


def _answer_validator(document: dict) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("urn:camera", Resource.from_contents(document,
                                                                             default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": "urn:camera#/components/schemas/CameraAnswer"}, registry=registry)


def test_what_a_real_listener_answers_is_what_the_document_says():
    document = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    responses = document["paths"]["/read"]["post"]["responses"]
    answers = _answer_validator(document)
    post_schema = _answer_validator(document).evolve(
        schema={"$ref": "urn:camera#/components/schemas/CameraPost"})
    example = document["paths"]["/read"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert not list(post_schema.iter_errors(example))

    cases = [
        (post(GOOD), 200, None),
        (post(b'{"text": "CSQU3054383"'), 400, "bad_json"),
        (post(b'{"text": "X", "confidence": 2}'), 422, "bad_schema"),
        (post(GOOD, path="/nowhere"), 404, "bad_path"),
        (b"GET /read HTTP/1.1\r\nHost: x\r\n\r\n", 405, "bad_method"),
        (b"POST /read HTTP/1.1\r\nHost: x\r\n\r\n", 411, "no_length"),
        (post(GOOD, headers="Content-Type: image/jpeg\r\n"), 415, "not_json"),
        (b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n", 413, "too_big"),
    ]

    async def run():
        sink = Sink()
        driver = await started(sink)
        try:
            return [await raw(driver.port, request) for request, _, _ in cases]
        finally:
            await stopped(driver)

    for (request, status, error), (got_status, body) in zip(cases, asyncio.run(run()), strict=True):
        assert (got_status, body.get("error")) == (status, error), request[:60]
        assert str(got_status) in responses, got_status
        assert not list(answers.iter_errors(body)), body
        if error is not None:
            assert error in responses[str(got_status)]["content"]["application/json"]["examples"]
