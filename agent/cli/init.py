"""`portedge init gate|pda DIR [--node ID] [--site SITE] [--storage DIR]`: write a starting
node config that `portedge check-config` accepts, and (for a service) the systemd drop-in
that lets the node open exactly the serial ports its config names.

    DIR/ID.toml                              the node config (from agent/templates/)
    DIR/portedge@ID.service.d/devices.conf   DeviceAllow= per serial port (copy it to
                                             /etc/systemd/system/portedge@ID.service.d/)
    DIR/portedge@.service                    the unit (also packaging/systemd/ in the source)

Never overwrites a file that exists (--force does); writes only into DIR.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from string import Template

from agent.errors import UsageError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("role", choices=("gate", "pda"), help="gate: a lane's PC; pda: a forklift handheld")
    parser.add_argument("dir", metavar="DIR", type=Path, help="where to write (e.g. /etc/portedge)")
    parser.add_argument("--node", help="node id (default lane-1 / pda-01)")
    parser.add_argument("--site", default="yantian", help="site id (default yantian)")
    parser.add_argument("--storage", default="/var/lib/portedge",
                        help="folder of the node's databases (default /var/lib/portedge, the unit's StateDirectory)")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")


def template(name: str) -> str:
    return resources.files("agent.templates").joinpath(name).read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    import re

    from agent.config.load import load

    node = args.node or ("lane-1" if args.role == "gate" else "pda-01")
    for flag, value in (("--node", node), ("--site", args.site)):
        if not re.match(ID_PATTERN, value) or len(value) > 64:
            raise UsageError(f"{flag} {value!r}: letters, digits, '.', '_' and '-' only, up to 64")
    folder: Path = args.dir
    config_path = folder / f"{node}.toml"
    dropin = folder / f"portedge@{node}.service.d" / "devices.conf"
    unit = folder / "portedge@.service"
    existing = [p for p in (config_path, dropin, unit) if p.exists()]
    if existing and not args.force:
        raise UsageError(f"{existing[0]} exists; --force overwrites it")
    text = Template(template(f"{args.role}.toml")).substitute(
        node=node, site=args.site, storage=args.storage.rstrip("/") or "/", config=config_path)
    folder.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text, encoding="utf-8")
    config = load(config_path)  # what we wrote must pass; a ConfigError here is a bug worth seeing
    dropin.parent.mkdir(exist_ok=True)
    dropin.write_text(devices_dropin(config), encoding="utf-8")
    unit.write_text(template("portedge@.service"), encoding="utf-8")
    print(f"wrote {config_path}\nwrote {dropin}\nwrote {unit}")
    print(f"next: edit {config_path} (devices, broker), then: portedge check-config {config_path}", file=sys.stderr)
    return 0


def devices_dropin(config) -> str:
    """DeviceAllow= for every serial device path in the config (URLs such as socket:// need none)."""
    lines = [f"# portedge@{config.node.id}: the serial ports this node's config names (written by portedge init;",
             "# write it again after changing [[devices]]). Install as",
             f"# /etc/systemd/system/portedge@{config.node.id}.service.d/devices.conf, then systemctl daemon-reload.",
             "[Service]"]
    ports = [d.port for d in config.devices if getattr(d, "port", None) and "://" not in d.port]
    lines += [f"DeviceAllow={port} rw" for port in ports]
    if not ports:
        lines.append("# no serial ports: DevicePolicy=closed in the unit allows none")
    return "\n".join(lines) + "\n"
