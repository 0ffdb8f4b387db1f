"""`portedge check-config FILE`: validate a node config as `portedge run` would load it.

Prints "ok" and a short summary (node, site, role, broker, devices) on stdout and exits 0, or
prints every problem as `FILE: key.path: reason` on stderr and exits 2. It runs the same
`agent.config.load` as `run` (model, cross-references, listeners, files, encoding), so the two
never disagree. Warnings (a private key others can read) go to stderr as
`FILE: key.path: warning: reason` and do not change the exit code. PORTEDGE_* environment
overrides apply, exactly as at run time. It must never print secrets (passwords, URL
userinfo), never create a file, and never open a port or connect to the broker.
"""

from __future__ import annotations

import sys

from agent.config.model import public_url

EXIT_INVALID = 2


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="node config (TOML)")


def run(args) -> int:
    from agent.config import load
    from agent.errors import ConfigError

    warnings: list[tuple[str, str]] = []
    try:
        config = load(args.file, warnings=warnings)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return EXIT_INVALID
    print_warnings(args.file, warnings)
    print(f"ok: {args.file}")
    for line in summary(config):
        print(line)
    return 0


def print_warnings(file, warnings: list[tuple[str, str]]) -> None:
    for key, reason in warnings:
        print(f"{file}: {key}: warning: {reason}", file=sys.stderr)



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
        f"broker   {', '.join(public_url(u) for u in broker.addresses)} "
        f"(MQTT {broker.mqtt_version}{', TLS' if broker.tls else ''}), "
        f"client id {config.client_id}",
        f"storage  {config.storage.path} (synchronous={config.storage.synchronous})",
    ]
    gate = getattr(config, "gate", None)
    if gate is not None:
        lines.append(f"gate     lane {gate.lane}")
    pda = getattr(config, "pda", None)
    if pda is not None:
        lines.append(f"pda      language {pda.language}")
    metrics = getattr(config, "metrics", None)
    if metrics is not None and metrics.listen:
        lines.append(f"metrics  http://{metrics.listen}/metrics and /healthz")
    lines.append(f"devices  {len(config.devices)}")
    width = max((len(d.name) for d in config.devices), default=0)
    for device in config.devices:
        lines.append(f"  {device.name:<{width}}  {device.kind:<11}  {_where(device)}")
    return lines
