"""Log output for a node: text (the default, for a terminal) or JSON lines (`--log-format
json`: one object per line with ts, level, logger, node, device, transaction, task, message),
and never a secret from the config in either.

Every line passes through `Redactor`: the config's passwords/tokens are replaced by `***`,
and so is the password part of any URL (`mqtt://user:pw@host` -> `mqtt://user:***@host`).
A log call names its device, transaction or task with `extra={"device": ...}`; the JSON
line then carries it as a field.

Never: write a secret, or raise from a log call.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

#: key names in a config whose string values are secrets
SECRET_KEYS = re.compile(r"password|passwd|secret|token|passphrase|api_key|(^|_)pin(_|$)", re.IGNORECASE)
#: the password part of URL userinfo: scheme://user:PASSWORD@
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE)
#: record attributes copied into a JSON line when a log call sets them
CONTEXT_FIELDS = ("device", "transaction", "task")
FORMATS = ("text", "json")


def config_secrets(model: Any) -> set[str]:
    """Every secret string in a config model (and the passwords of URLs in it)."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), name)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and value:
            if SECRET_KEYS.search(key):
                found.add(value)
            for match in re.finditer(r"://[^\s:/@]*:([^\s@/]+)@", value):
                found.add(match.group(1))

    walk(model)
    return {s for s in found if len(s) >= 3}  # 1-2 characters would redact half the text


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = URL_PASSWORD.sub(r"\1***@", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor, node: str | None):
        super().__init__()
        self.redact = redact
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name, "node": self.node,
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        line["message"] = message
        return self.redact(json.dumps(line, ensure_ascii=False, default=str))


def setup(level: str = "INFO", fmt: str = "text", *, node: str | None = None, secrets: Iterable[str] = (),
          stream=None) -> logging.Handler:
    """Route the root logger to `stream` (stderr) in `fmt`; returns the handler."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redact, node) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
