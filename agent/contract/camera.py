"""The camera push API: what an OCR camera POSTs to a lane PC, and every answer it can get.

The OpenAPI document (docs/camera-openapi.yaml, `portedge contract --format openapi`) is
generated from this module; agent/devices/camera.py and agent/codecs/camera_post.py answer
with these statuses and error names only (a test reads their `PushRejected(...)` calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PATHS = ("/read", "/")
MAX_BODY_BYTES = 64 * 1024
MAX_HEADER_BYTES = 8 * 1024
JSON_TYPES = ("application/json", "text/json", "text/plain")


class CameraPost(BaseModel):
    """The JSON a camera posts: one OCR read. `target` and `position` default to the camera's
    entry in the lane's config."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=32, description="what was read: a plate or a container number")
    confidence: float = Field(ge=0, le=1)
    image_ref: str | None = Field(default=None, max_length=512, description="where the camera keeps the picture")
    target: Literal["plate", "container"] | None = None
    position: Literal["front", "rear", "top", "side", "unknown"] | None = None


class CameraAnswer(BaseModel):
    """Every answer's body. `ok` true only once the read is stored in the lane's outbox."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    error: str | None = Field(default=None, description="on a refusal: the error name (see the refusal answers)")
    reason: str | None = Field(default=None, description="on a refusal: what was wrong, for a person")


@dataclass(frozen=True)
class PushError:
    status: int
    error: str  # the name in the answer and the driver's counter
    meaning: str


#: every refusal a camera can hear, in status order
PUSH_ERRORS: tuple[PushError, ...] = (
    PushError(400, "bad_request", "the request line, headers or body framing are not valid HTTP/1.1 "
                                  "(also: both Content-Length and Transfer-Encoding, or the connection "
                                  "closed before the request was complete)"),
    PushError(400, "headers_too_big", f"request line and headers over {MAX_HEADER_BYTES} bytes"),
    PushError(400, "bad_json", "the body is not JSON (or nested too deep)"),
    PushError(404, "bad_path", f"a path other than {' or '.join(PATHS)}"),
    PushError(405, "bad_method", "not POST (the answer carries `Allow: POST`)"),
    PushError(408, "timeout", "the request was not complete within the listener's timeout (5 s)"),
    PushError(411, "no_length", "neither Content-Length nor a chunked body"),
    PushError(413, "too_big", f"body over {MAX_BODY_BYTES} bytes"),
    PushError(415, "not_json", f"Content-Type not one of {', '.join(JSON_TYPES)}"),
    PushError(422, "bad_schema", "JSON of the wrong shape: a field missing or out of range, or an unknown key"),
    PushError(503, "not_stored", "the read could not be stored (outbox full or failing): send it again later"),
    PushError(503, "busy", "more connections at once than the listener serves (32): sent at once, unread, "
                           "with `Retry-After: 1`"),
)
