"""`portedge check-config FILE`: validate a node config as `portedge run` would load it.

Prints "ok" and a short summary (node, site, role, broker, devices) on stdout and exits 0, or
prints every problem as `FILE: key.path: reason` on stderr and exits 2. PORTEDGE_* environment
overrides apply, exactly as at run time. It must never print secrets (passwords, URL userinfo)
and never open a port or connect to the broker: it checks the file, not the site.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

EXIT_INVALID = 2


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="node config (TOML)")


def run(args) -> int:
    from agent.config import load
    from agent.errors import ConfigError

    try:
        config = load(args.file)
    except ConfigError as err:
        for key, reason in err.problems:
            print(f"{err.file}: {key}: {reason}", file=sys.stderr)
        return EXIT_INVALID
    print(f"ok: {args.file}")
    for line in summary(config):
        print(line)
    return 0


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _where(device) -> str:
    if getattr(device, "port", None):
        return device.port
    if getattr(device, "listen", None):
        return f"listen {device.listen}"
    return "(fed by the app)"


def summary(config) -> list[str]:
    """Short, secret-free lines describing a loaded NodeConfig."""
    broker = config.broker
    lines = [
        f"node     {config.node.id} ({config.node.role}) at site {config.node.site}",
        f"broker   {_public_url(broker.url)} (MQTT {broker.mqtt_version}{', TLS' if broker.tls else ''}), "
        f"client id {config.client_id}",
        f"storage  {config.storage.path} (synchronous={config.storage.synchronous})",
    ]
    gate = getattr(config, "gate", None)
    if gate is not None:
        lines.append(f"gate     lane {gate.lane}")
    pda = getattr(config, "pda", None)
    if pda is not None:
        lines.append(f"pda      language {pda.language}")
    lines.append(f"devices  {len(config.devices)}")
    width = max((len(d.name) for d in config.devices), default=0)
    for device in config.devices:
        lines.append(f"  {device.name:<{width}}  {device.kind:<11}  {_where(device)}")
    return lines
