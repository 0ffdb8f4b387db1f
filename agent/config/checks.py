"""Checks on a node config that the model alone cannot make, run by `load()` for both
`portedge check-config` and `portedge run` (one validation path, so the two always agree).

Each check needs no device and no network: cross-references between sections (the lane's
devices are of the right kind), listener clashes, files the config names (exist, readable;
a private key readable by others is a warning), ranges that span two keys, and whether the
storage folder can be made. Problems come back as (key.path, reason) pairs; the caller turns
them into `FILE: key.path: reason` lines.

Relative paths in a config mean "beside the config file": `resolve_paths` rewrites them
against the config's folder before anything checks or opens them.

Never: open a serial port, bind a socket, connect anywhere, or create a file or folder.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path

from agent.config.model import NodeConfig
from agent.storage import sibling_db

Problem = tuple[str, str]

#: [gate] key -> device kinds it may name; a new lane device adds one line here
GATE_REFERENCES: dict[str, tuple[str, ...]] = {
    "io": ("gate_io",),
    "scale": ("toledo", "yaohua"),
    "cameras": ("camera",),
    "driver_reader": ("idcard_reader",),
}

#: broker keys naming files the link opens at start
BROKER_FILES = ("ca_file", "cert_file", "key_file")


def resolve_paths(config: NodeConfig, base: Path) -> None:
    """Make every relative path in `config` relative to `base` (the config file's folder)."""
    storage = config.storage
    if not storage.path.is_absolute():
        storage.path = base / storage.path
    for key in BROKER_FILES:
        value = getattr(config.broker, key)
        if value is not None and not value.is_absolute():
            setattr(config.broker, key, base / value)
    if config.gate is not None and config.gate.site_key_file is not None and not config.gate.site_key_file.is_absolute():
        config.gate.site_key_file = base / config.gate.site_key_file
    people = config.personnel
    if people is not None:
        for key in ("site_key_file", "photo_dir", "state_path"):
            value = getattr(people, key)
            if value is not None and not value.is_absolute():  # an unset state_path: beside the outbox
                setattr(people, key, base / value)
    gate = config.gate
    if gate is not None and gate.state_path is not None and str(gate.state_path) != ":memory:":
        if not gate.state_path.is_absolute():
            gate.state_path = base / gate.state_path


def check(config: NodeConfig) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) for a config that passed the model."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    errors += _sections(config)
    errors += _gate_references(config)
    errors += _personnel_references(config)
    errors += _listeners(config)
    errors += _ranges(config)
    file_errors, file_warnings = _files(config)
    errors += file_errors
    warnings += file_warnings
    errors += _storage(config)
    errors += _left_behind(config)
    return errors, warnings


def _sections(config: NodeConfig) -> list[Problem]:
    role = config.node.role
    if role == "gate" and config.gate is None and config.personnel is None:
        return [("gate", "a node with role 'gate' needs a [gate] section (at least: lane = \"...\")")]
    if role != "gate" and config.gate is not None:
        return [("gate", f"only a node with role 'gate' runs a lane; this node's role is {role!r}")]
    if role != "pda" and config.pda is not None:
        return [("pda", f"only a node with role 'pda' runs a task board; this node's role is {role!r}")]
    return []


#: [personnel] key -> device kinds it may name
PERSONNEL_REFERENCES: dict[str, tuple[str, ...]] = {"readers": ("idcard_reader", "badge_reader"),
                                                    "turnstile": ("turnstile",)}


def _personnel_references(config: NodeConfig) -> list[Problem]:
    people = config.personnel
    if people is None:
        return []
    if config.node.role != "gate":
        return [("personnel", f"only a node with role 'gate' runs a turnstile; this node's role is {config.node.role!r}")]
    kinds = {d.name: d.kind for d in config.devices}
    out: list[Problem] = []
    for key, allowed in PERSONNEL_REFERENCES.items():
        value = getattr(people, key)
        for i, name in enumerate(value if isinstance(value, list) else [value]):
            where = f"personnel.{key}[{i}]" if isinstance(value, list) else f"personnel.{key}"
            if name not in kinds:
                out.append((where, f"no device named {name!r}"))
            elif kinds[name] not in allowed:
                out.append((where, f"{name!r} is a {kinds[name]}, not a {' or '.join(allowed)}"))
    return out


def _gate_references(config: NodeConfig) -> list[Problem]:
    gate = config.gate
    if gate is None:
        return []
    kinds = {d.name: d.kind for d in config.devices}
    out: list[Problem] = []
    for key, allowed in GATE_REFERENCES.items():
        value = getattr(gate, key, None)
        names = value if isinstance(value, list) else [value]
        for i, name in enumerate(names):
            if name is None:
                continue
            where = f"gate.{key}[{i}]" if isinstance(value, list) else f"gate.{key}"
            if name not in kinds:
                out.append((where, f"no device named {name!r}"))
            elif kinds[name] not in allowed:
                out.append((where, f"{name!r} is a {kinds[name]}, not a {' or '.join(allowed)}"))
            elif isinstance(value, list) and name in names[:i]:
                out.append((where, f"{name!r} is listed twice"))
    return out


def listeners(config: NodeConfig) -> list[tuple[str, str, str]]:
    """(key.path, owner, "host:port") for every socket the node will listen on."""
    out = [(f"devices[{i}].listen", d.name, listen) for i, d in enumerate(config.devices)
           if (listen := getattr(d, "listen", None))]
    for name in type(config).model_fields:  # [metrics], [console], and any section added later
        listen = getattr(getattr(config, name), "listen", None)
        if isinstance(listen, str) and listen:
            out.append((f"{name}.listen", name, listen))
    return out


def split_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:8081' -> ('127.0.0.1', 8081); '[::1]:80' -> ('::1', 80); ValueError if bad."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8081)")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not 1-65535")
    host = host.strip("[]")
    if not host:
        raise ValueError(f"{text!r} names no host (use 0.0.0.0 for every interface)")
    return host, port


def _any_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _listeners(config: NodeConfig) -> list[Problem]:
    out: list[Problem] = []
    taken: list[tuple[str, str, str, int]] = []  # (key, owner, host, port)
    for key, owner, text in listeners(config):
        try:
            host, port = split_listen(text)
        except ValueError as err:
            out.append((key, str(err)))
            continue
        for other_key, other_owner, other_host, other_port in taken:
            if port == other_port and (host == other_host or _any_host(host) or _any_host(other_host)):
                out.append((key, f"{text} clashes with {other_key} ({other_owner}, {other_host}:{other_port})"))
                break
        taken.append((key, owner, host, port))
    return out


def _ranges(config: NodeConfig) -> list[Problem]:
    out: list[Problem] = []
    broker = config.broker
    if broker.reconnect_base_s > broker.reconnect_cap_s:
        out.append(("broker.reconnect_base_s", f"{broker.reconnect_base_s} is above reconnect_cap_s "
                                               f"({broker.reconnect_cap_s})"))
    for i, device in enumerate(config.devices):
        if device.reconnect_base_s > device.reconnect_cap_s:
            out.append((f"devices[{i}].reconnect_base_s",
                        f"{device.reconnect_base_s} is above reconnect_cap_s ({device.reconnect_cap_s})"))
    return out


def _files(config: NodeConfig) -> tuple[list[Problem], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for key in BROKER_FILES:
        path = getattr(config.broker, key)
        if path is None:
            continue
        where = f"broker.{key}"
        problem = _readable_file(path)
        if problem:
            errors.append((where, problem))
            continue
        if key == "key_file":
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                warnings.append((where, f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                                        f"chmod 600 it"))
    keys = []  # the site key hashes ID numbers: a secret like a TLS key
    if config.personnel is not None:
        keys.append(("personnel.site_key_file", config.personnel.site_key_file))
    if config.gate is not None and config.gate.driver_reader is not None:
        if config.gate.site_key_file is None:
            errors.append(("gate.site_key_file", "a lane with a driver_reader needs the site key file"))
        else:
            keys.append(("gate.site_key_file", config.gate.site_key_file))
    for where, path in keys:
        problem = _readable_file(path)
        if problem:
            errors.append((where, problem))
        elif path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append((where, f"{path} is readable by other users; chmod 600 it"))
    return errors, warnings


def _readable_file(path: Path) -> str | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as err:
        return f"{path}: {err.strerror or err}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a file"
    if not os.access(path, os.R_OK):
        return f"{path} is not readable by this user"
    return None


def _left_behind(config: NodeConfig) -> list[Problem]:
    """A lane's state file named by `state_path` that does not exist while the file beside the
    outbox does: before `state_path` became optional, the written-out default (`var/gate.db`,
    `var/people.db`) meant the file beside the outbox. Starting on a new, empty file would
    silently drop the lane's journal drafts, reconcile queue and permits, so it is refused."""
    out: list[Problem] = []
    for key, section, suffix in (("gate", config.gate, "gate"), ("personnel", config.personnel, "people")):
        path = None if section is None else section.state_path
        if path is None or str(path) == ":memory:" or path.exists():
            continue
        beside = sibling_db(config, suffix)
        if beside.exists():
            out.append((f"{key}.state_path", f"{path} does not exist but {beside} does (the file beside the outbox, "
                        "which an earlier version used for this setting): remove state_path to keep using it, or "
                        "move it to the configured path (docs/operations.md, upgrading)"))
    return out


def _storage(config: NodeConfig) -> list[Problem]:
    """The storage folder must exist or be creatable, and be writable (nothing is made here)."""
    out: list[Problem] = []
    paths = [("storage.path", config.storage.path)]
    gate = config.gate
    if gate is not None and gate.state_path is not None and str(gate.state_path) != ":memory:":
        paths.append(("gate.state_path", gate.state_path))
    for key, path in paths:
        if path.exists() and not path.is_file():
            out.append((key, f"{path} exists and is not a file"))
            continue
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            out.append((key, f"{folder} is not a folder"))
        elif not os.access(folder, os.W_OK | os.X_OK):
            out.append((key, f"cannot create {path}: {folder} is not writable by this user"))
    return out
