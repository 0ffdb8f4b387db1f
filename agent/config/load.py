"""Read a node config file, apply PORTEDGE_* environment overrides, validate, explain errors.

An override names a key path with double underscores: `PORTEDGE_BROKER__URL=mqtt://...`,
`PORTEDGE_NODE__ID=lane-2`, `PORTEDGE_STORAGE__PATH=/var/lib/portedge/lane.db`.
Every problem is reported as `FILE: key.path: reason`, all at once.

`load()` is the one validation path: `portedge check-config`, `run`, `pda`, `status` and
`outbox` all call it, so they agree on what a good config is. It reads the file as UTF-8
(a BOM or another encoding is reported by line), validates the model, resolves relative
paths against the config file's folder and runs agent.config.checks. It never creates a file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from agent.config.model import NodeConfig
from agent.errors import ConfigError

ENV_PREFIX = "PORTEDGE_"


def key_path(loc: tuple[Any, ...]) -> str:
    """('devices', 1, 'gate_io', 'port') -> 'devices[1].port' (drops pydantic's union tag)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out.endswith("]") and part in _DEVICE_TAGS:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top)"


def _device_tags() -> set[str]:
    from agent.config.devices import DEVICE_KINDS

    return set(DEVICE_KINDS)


_DEVICE_TAGS = _device_tags()


def apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        target = data
        for part in path[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                break
            target = node
        else:
            target[path[-1]] = value
    return data


def parse(text: str, file: str, environ: Mapping[str, str] | None = None) -> NodeConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(file, [("(toml)", str(err))]) from None
    data = apply_env(data, os.environ if environ is None else environ)
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as err:
        problems = [(_error_path(e), _reason(e)) for e in err.errors()]
        raise ConfigError(file, problems) from None


def _error_path(error: ErrorDetails) -> str:
    path = key_path(error["loc"])
    # a bad or missing device kind is the `kind` key's fault, not the whole entry's
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        path += ".kind"
    return path


def _reason(error: ErrorDetails) -> str:
    msg = error["msg"]
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        from agent.config.devices import DEVICE_KINDS

        kind = error["input"].get("kind") if isinstance(error["input"], dict) else None
        said = "device kind is missing" if kind is None else f"unknown device kind {kind!r}"
        return f"{said}; known: {', '.join(DEVICE_KINDS)}"
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg


def decode(data: bytes, file: str) -> str:
    """The file's text as UTF-8; a BOM or a non-UTF-8 byte is a ConfigError naming its line."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(file, [("line 1", "not UTF-8 as TOML needs it: the file starts with a byte order mark "
                                            "(BOM); save it as UTF-8 without BOM")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ConfigError(file, [(f"line {line}", f"not UTF-8 (byte 0x{data[err.start]:02x} at column {column}); "
                                                  f"save the file as UTF-8 (e.g. GBK comments must be converted)")]
                          ) from None


def load(path: str | Path, environ: Mapping[str, str] | None = None,
         warnings: list[tuple[str, str]] | None = None) -> NodeConfig:
    """Read, validate and check the node config at `path`. Problems raise ConfigError, all at
    once; warnings (a key file others can read) are appended to `warnings` if given."""
    from agent.config.checks import check, resolve_paths

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(str(path), [("(file)", err.strerror or str(err))]) from None
    config = parse(decode(data, str(path)), str(path), environ)
    resolve_paths(config, path.resolve().parent)
    errors, found = check(config)
    if errors:
        raise ConfigError(str(path), errors)
    if warnings is not None:
        warnings.extend(found)
    return config
