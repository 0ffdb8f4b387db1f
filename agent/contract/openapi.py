"""Generate the camera push API (OpenAPI 3.1) from agent/contract/camera.py.

Like the AsyncAPI document, the output is committed (docs/camera-openapi.yaml) and a test
fails when it drifts, so this module must stay deterministic and must never describe a path,
status or field the contract module does not define.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic.json_schema import models_json_schema

from agent.contract.camera import (
    JSON_TYPES,
    MAX_BODY_BYTES,
    PATHS,
    PUSH_ERRORS,
    CameraAnswer,
    CameraPost,
)
from agent.contract.envelope import SCHEMA_VERSION
from agent.contract.topics import VERSION

OPENAPI_VERSION = "3.1.0"

_DESCRIPTION = f"""\
How an OCR camera (licence plates, container numbers) pushes its reads to a gate lane's PC.
Generated from agent/contract/camera.py by `portedge contract --format openapi`; do not edit
by hand.

One read per request, one request per connection (every answer says `Connection: close`).
The body is JSON (Content-Length or chunked, at most {MAX_BODY_BYTES} bytes; Content-Type one
of {', '.join(JSON_TYPES)}, or none). The answer is 200 only after the read is stored in the
lane's outbox, so a camera that did not get its 200 knows the read was not taken and may send
it again (the lane treats a repeated read like a second frame of the same truck). Every other
answer is a refusal with an `error` name, counted by the lane under that name (the camera
device's counters, in `portedge status` and the node's heartbeat).
"""


def _example_read() -> dict[str, Any]:
    return {"text": "CSQU3054383", "confidence": 0.93, "image_ref": "cam-front/000123.jpg",
            "target": "container", "position": "front"}


def _answer_ref() -> dict[str, str]:
    return {"$ref": "#/components/schemas/CameraAnswer"}  # a new dict each time: no YAML anchors


def _operation() -> dict[str, Any]:
    by_status: dict[int, list] = defaultdict(list)
    for error in PUSH_ERRORS:
        by_status[error.status].append(error)
    responses: dict[str, Any] = {
        "200": {"description": "stored: the read is in the lane's outbox",
                "content": {"application/json": {"schema": _answer_ref(), "example": {"ok": True}}}},
    }
    for status in sorted(by_status):
        errors = by_status[status]
        lines = "\n".join(f"- `{e.error}`: {e.meaning}" for e in errors)
        entry: dict[str, Any] = {
            "description": f"refused:\n\n{lines}\n",
            "content": {"application/json": {
                "schema": _answer_ref(),
                "examples": {e.error: {"value": {"ok": False, "error": e.error, "reason": e.meaning}} for e in errors},
            }},
        }
        if status == 405:
            entry["headers"] = {"Allow": {"schema": {"type": "string", "const": "POST"}}}
        if status == 503:
            entry["headers"] = {"Retry-After": {"description": "on `busy`: seconds to wait",
                                                "schema": {"type": "integer"}}}
        responses[str(status)] = entry
    return {
        "operationId": "pushRead",
        "summary": "Push one OCR read",
        "requestBody": {"required": True, "content": {
            kind: {"schema": {"$ref": "#/components/schemas/CameraPost"},
                   **({"example": _example_read()} if kind == JSON_TYPES[0] else {})}
            for kind in JSON_TYPES}},
        "responses": responses,
    }


def openapi_document() -> dict[str, Any]:
    _refs, top = models_json_schema([(CameraPost, "validation"), (CameraAnswer, "serialization")],
                                    ref_template="#/components/schemas/{model}")
    schemas = top.get("$defs", {})
    first = PATHS[0]
    paths: dict[str, Any] = {first: {"post": _operation()}}
    for path in PATHS[1:]:  # the same operation under another path
        paths[path] = {"$ref": "#/paths/" + first.replace("~", "~0").replace("/", "~1")}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Port Edge camera push", "version": f"{VERSION}.{SCHEMA_VERSION}", "description": _DESCRIPTION,
                 "license": {"name": "Apache-2.0"}},
        "servers": [{"url": "http://{listen}", "description": "the camera's `listen` address in the lane's config",
                     "variables": {"listen": {"default": "127.0.0.1:8081"}}}],
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(schemas)}},
    }
