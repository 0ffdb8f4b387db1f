"""A restricted-area lane's simulated hardware: the ID card reader and the badge converter
stubs on ptys (VirtualSerial), the turnstile stub as a Modbus RTU peer on a pty pair
(null-modem), a generated site key, and the node config that wires a `[personnel]` lane to
them. Used by the personnel tests, bench/bench_personnel.py and the demo.

Never: bind anything but loopback, or write a site key anywhere but the rig's own folder.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

from firmware_stubs.badge_reader import BadgeReader
from firmware_stubs.idcard_reader import IdCardReader
from firmware_stubs.turnstile import TurnstileController
from simulators.null_modem import NullModem
from simulators.vserial import VirtualSerial

#: short timeouts for simulated runs (production defaults are in agent/config/personnel.py)
FAST_PEOPLE: dict[str, Any] = {"verify_s": 0.8, "pass_s": 3.0, "tailgate_watch_s": 0.6, "reconcile_s": 0.5,
                               "tick_s": 0.02}


class PeopleRig:
    def __init__(self, node: str, site: str, workdir: Path, broker_url: str, *, area: str = "apron",
                 rng: random.Random | None = None, personnel: dict[str, Any] | None = None):
        self.node, self.site, self.area = node, site, area
        self.workdir = Path(workdir)
        self.broker_url = broker_url
        self.key_hex = (rng or random.Random(16)).randbytes(32).hex()  # made here: no key lives in the repo
        self.personnel = {**FAST_PEOPLE, **(personnel or {})}
        self.reader = IdCardReader()
        self.badges = BadgeReader()
        self.turnstile = TurnstileController(unlock_s=4.0, pulse_s=0.3)
        self.id_line: VirtualSerial | None = None
        self.badge_line: VirtualSerial | None = None
        self.cable: NullModem | None = None
        self.config_path = self.workdir / f"{node}.toml"

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = self.workdir / "site.key"
        key.write_text(self.key_hex)
        key.chmod(0o600)
        self.id_line = VirtualSerial(self.reader, directory=self.workdir, name="id-1").start()
        self.badge_line = VirtualSerial(self.badges, directory=self.workdir, name="badge-1").start()
        self.cable = NullModem()
        await self.turnstile.start_serial(self.cable.a, baudrate=115200)
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.turnstile.stop()
        for line in (self.id_line, self.badge_line, self.cable):
            if line is not None:
                with contextlib.suppress(Exception):
                    line.close()

    def config_text(self) -> str:
        assert self.id_line is not None and self.badge_line is not None and self.cable is not None
        fast = "reconnect_base_s = 0.05\nreconnect_cap_s = 0.4"
        extra = "\n".join(f"{k} = {_toml(v)}" for k, v in self.personnel.items())
        return f"""# a restricted-area lane on simulated hardware (simulators/people_rig.py)
[node]
id = "{self.node}"
site = "{self.site}"
role = "gate"

[broker]
url = "{self.broker_url}"

[storage]
path = "{self.workdir / 'node' / (self.node + '.db')}"

[[devices]]
name = "id-1"
kind = "idcard_reader"
port = "{self.id_line.path}"
poll_s = 0.05
reply_timeout_s = 0.4
{fast}

[[devices]]
name = "badge-1"
kind = "badge_reader"
port = "{self.badge_line.path}"
{fast}

[[devices]]
name = "ts-1"
kind = "turnstile"
port = "{self.cable.b}"
line = {{ baudrate = 115200 }}
poll_hz = 40
timeout_s = 0.3
{fast}

[personnel]
lane = "{self.node}"
area = "{self.area}"
readers = ["id-1", "badge-1"]
turnstile = "ts-1"
site_key_file = "{self.workdir / 'site.key'}"
photo_dir = "{self.workdir / 'node' / 'photos'}"
{extra}
"""


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return f'"{value}"'
