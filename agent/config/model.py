"""The node configuration: one TOML file per node, validated as a whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.config.devices import DeviceConfig
from agent.config.personnel import PersonnelSection


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeSection(_Section):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                    description="this node's id in every topic and record (the broker username must equal it)")
    site: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                      description="the port site, the first topic segment")
    role: Literal["gate", "pda"] = Field(description="gate: a lane's station ([gate]); pda: a forklift handheld ([pda])")
    heartbeat_s: float = Field(default=30.0, gt=0, description="seconds between heartbeats (health) to the platform")


def _check_broker_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError("broker URL must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError("broker URL has no host")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError("broker URL port is not a number 1-65535")
    return value


class BrokerSection(_Section):
    url: str = Field(default="mqtt://127.0.0.1:1883", description="mqtt://host:port or mqtts://host:port (TLS); "
                     "a password in the URL is never logged")
    urls: list[str] | None = Field(default=None, min_length=1, max_length=16,
                                   description="a failover list (a broker cluster's nodes), tried in order and kept "
                                               "while it works; instead of url, all mqtt:// or all mqtts://")
    client_id: str | None = Field(default=None, max_length=64, description="defaults to the node id")
    username: str | None = Field(default=None, description="broker login (equal to the node id for the generated ACL)")
    password: str | None = Field(default=None, description="broker password; never logged (prefer PORTEDGE_BROKER__PASSWORD)")
    ca_file: Path | None = Field(default=None, description="CA certificate (PEM) to verify the broker; must exist and be readable")
    cert_file: Path | None = Field(default=None, description="client certificate (PEM), with key_file")
    key_file: Path | None = Field(default=None, description="client private key (PEM); a warning if other users can read it")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive: how soon a dead link is noticed")
    mqtt_version: Literal["5", "3.1.1"] = Field(default="5", description="protocol version spoken to the broker")
    session_expiry_s: int = Field(default=86400, ge=0, description="how long the broker keeps this node's session "
                                  "(and queued commands) while it is away")
    reconnect_base_s: float = Field(default=0.5, gt=0, description="first reconnect delay; doubles up to reconnect_cap_s, "
                                    "with jitter")
    reconnect_cap_s: float = Field(default=30.0, gt=0, description="longest reconnect delay")
    reconnect_stable_s: float = Field(default=10.0, ge=0, description="the backoff starts over only after a "
                                      "connection stayed up this long (a broker that accepts and drops is not a "
                                      "reconnect loop)")
    inflight: int = Field(default=400, ge=1, le=65535, description="records in flight (published, not yet "
                          "acknowledged) at once; a batch counts its records, so MQTT publishes stay under it too")

    @field_validator("url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        return _check_broker_url(value)

    @field_validator("urls")
    @classmethod
    def _broker_urls(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for i, url in enumerate(value):
            try:
                _check_broker_url(url)
            except ValueError as err:
                raise ValueError(f"[{i}] {url!r}: {err}") from None
        if len({urlsplit(u).scheme for u in value}) > 1:
            raise ValueError("every broker URL uses the same scheme (all mqtt:// or all mqtts://): TLS is not "
                             "something a failover may drop")
        if len(set(value)) != len(value):
            raise ValueError("a broker URL is listed twice")
        return value

    @model_validator(mode="after")
    def _url_or_urls(self) -> BrokerSection:
        if self.urls is not None and "url" in self.model_fields_set:
            raise ValueError("give url or urls, not both")
        return self

    @property
    def addresses(self) -> list[str]:
        """The brokers to try, in order: `urls`, or the one `url`."""
        return list(self.urls) if self.urls else [self.url]

    @property
    def host(self) -> str:
        return urlsplit(self.addresses[0]).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return address_port(self.addresses[0])

    @property
    def tls(self) -> bool:
        return urlsplit(self.addresses[0]).scheme == "mqtts"

    @model_validator(mode="after")
    def _cert_pair(self) -> BrokerSection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


def public_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def address_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (8883 if parts.scheme == "mqtts" else 1883)


class ClassCap(_Section):
    max_rows: int = Field(ge=1, description="rows this class may hold")
    max_bytes: int = Field(ge=1024, description="payload bytes this class may hold")
    max_age_s: float | None = Field(default=None, gt=0, description="telemetry only: older rows are dropped")


CapClass = Literal["control", "transactional", "telemetry", "answers"]


def _default_caps() -> dict[str, ClassCap]:
    """The defaults by plain class name (as the outbox takes them)."""
    return {name: cap for name, cap in _class_caps().items()}


def _class_caps() -> dict[CapClass, ClassCap]:
    return {
        "control": ClassCap(max_rows=10_000, max_bytes=16 * 2**20),
        "transactional": ClassCap(max_rows=1_000_000, max_bytes=1024 * 2**20),
        "telemetry": ClassCap(max_rows=100_000, max_bytes=64 * 2**20, max_age_s=86400.0),
        "answers": ClassCap(max_rows=5_000, max_bytes=8 * 2**20),  # command answers: a flood fills only this
    }


class StorageSection(_Section):
    path: Path = Field(default=Path("var/portedge.db"), description="the outbox's SQLite file; workflow databases go "
                       "beside it (lane-1.db -> lane-1.gate.db)")
    synchronous: Literal["FULL", "NORMAL", "EXTRA"] = Field(default="FULL", description="SQLite synchronous mode: FULL "
                                                             "survives power loss; NORMAL spares flash on a handheld")
    group_commit_ms: float = Field(default=2.0, ge=0, le=100, description="records arriving within this window share "
                                   "one commit")
    caps: dict[CapClass, ClassCap] = Field(
        default_factory=_class_caps, description="limits per priority class ([storage.caps.transactional] ...); "
        "defaults: control 10,000 rows / 16 MiB, transactional 1,000,000 / 1 GiB, telemetry 100,000 / 64 MiB / 1 day,"
        " answers (command answers) 5,000 / 8 MiB")

    @field_validator("caps")
    @classmethod
    def _all_classes(cls, value: dict[CapClass, ClassCap]) -> dict[CapClass, ClassCap]:
        return _class_caps() | value


class ClassBatch(_Section):
    """How one class's records share MQTT messages ([link.batch.transactional] ...): records of one
    topic already waiting go out together as one batch message (agent.contract.batch); a lone
    record goes at once. Nothing ever waits to fill a batch."""

    enabled: bool = Field(default=True, description="false: off, one message per record (for platforms that "
                          "want that)")
    max_records: int = Field(default=100, ge=2, le=1000, description="records in one batch at most")
    max_bytes: int = Field(default=64 * 1024, ge=1024, le=256 * 1024, description="payload bytes of one batch at "
                           "most (a record bigger than this goes alone). An MQTT 5 broker's Maximum Packet Size "
                           "(CONNACK) caps it further; MQTT 3.1.1 cannot tell it: keep this below the broker's "
                           "max_packet_size less ~300 bytes (topic and header)")


#: the classes whose records may be batched (command answers never are)
BatchClass = Literal["control", "transactional", "telemetry"]


def _default_batching() -> dict[BatchClass, ClassBatch]:
    # control (lane events: barrier, loop, mode) comes a few per truck: batching saves nothing
    # measurable there, and one message per record keeps the lane's safety stream the simplest
    # to route (a broker rule engine can filter it by payload field without unpacking arrays)
    return {"control": ClassBatch(enabled=False), "transactional": ClassBatch(), "telemetry": ClassBatch()}


class LinkSection(_Section):
    """How the link puts records on the wire (agent.link)."""

    batch: dict[BatchClass, ClassBatch] = Field(
        default_factory=_default_batching, description="batching per priority class ([link.batch.telemetry] ...); "
        "defaults: transactional and telemetry on (100 records / 64 KiB), control off. Command answers and the "
        "retained state always go one per message")

    @field_validator("batch")
    @classmethod
    def _all_classes(cls, value: dict[BatchClass, ClassBatch]) -> dict[BatchClass, ClassBatch]:
        return _default_batching() | value


class CommandsSection(_Section):
    """How this node takes platform commands (agent.link.commands)."""

    max_ttl_s: float = Field(default=300.0, gt=0, le=3600, description=(
        "a command whose expires_at is further ahead than this is refused: a replay of it after"
        " its stored answer is gone (answers are kept 24 h) would otherwise run again"))
    concurrency: int = Field(default=8, ge=1, le=256, description="commands running at once")
    queue: int = Field(default=64, ge=0, le=10_000, description=(
        "commands waiting to run; one arriving beyond it is answered busy at once"))


class GateSection(_Section):
    """The gate lane workflow (role "gate" only): which devices feed it, its thresholds and
    its timeouts. All times are seconds."""

    lane: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    io: str | None = Field(default=None, description="name of the gate_io device (loops, barrier, lights)")
    cameras: list[str] = Field(default_factory=list, description="names of the plate/container cameras")
    scale: str | None = Field(default=None, description="name of the weighbridge; none = the lane does not weigh")
    container_positions: list[Literal["front", "rear", "top", "side", "unknown"]] = Field(
        default_factory=lambda: ["front", "rear"], description="container reads needed before verifying")
    allow_no_container: bool = Field(default=True, description="a bobtail/chassis truck (plate, no container) may proceed")
    twin_boxes: bool = Field(default=False, description="two 20-ft boxes on one chassis: different, valid front and rear "
                             "numbers both go to the platform instead of to TROUBLE")
    plate_pattern: str | None = Field(default=None, description="regex for plates; default GA 36-2018")
    plate_confidence: float = Field(default=0.8, ge=0, le=1)
    container_confidence: float = Field(default=0.8, ge=0, le=1)
    debounce_s: float = Field(default=0.5, ge=0, description="a loop change shorter than this is chatter")
    holdoff_s: float = Field(default=1.0, ge=0, description="wait after the exit loop clears before closing")
    identify_s: float = Field(default=20.0, gt=0)
    weigh_s: float = Field(default=30.0, gt=0)
    verify_s: float = Field(default=3.0, gt=0, description="platform answer time before permits are consulted")
    late_answer_s: float = Field(default=60.0, gt=0, description="how long a late platform answer is still awaited")
    permit_lookup_s: float = Field(default=2.0, gt=0)
    pass_s: float = Field(default=60.0, gt=0, description="open barrier, nobody passes: nag, then cancel if lane empty")
    trouble_nag_s: float = Field(default=120.0, gt=0)
    decision_ttl_s: float = Field(default=5.0, gt=0, description="expiry of an open command made from a decision")
    tick_s: float = Field(default=0.1, gt=0, le=1)
    reconcile_s: float = Field(default=60.0, gt=0, description="how often offline decisions are re-asked of the platform")
    driver_reader: str | None = Field(default=None, description="ID card reader at the lane: the driver's card is read "
                                      "and the platform decides driver, truck and boxes together; none = off")
    driver_s: float = Field(default=30.0, gt=0, description="wait for the driver's card before going to TROUBLE")
    site_key_file: Path | None = Field(default=None, description="site key (hex) hashing the driver's ID number; "
                                       "needed with driver_reader")
    state_path: Path | None = Field(default=None, description="SQLite: permits, in-progress transaction, reconcile "
                                    "queue; unset = beside the outbox (lane-1.db -> lane-1.gate.db)")


class PdaSection(_Section):
    """[pda]: the forklift handheld's task board and driver session (agent.tasks)."""

    offline_login_s: float = Field(default=12 * 3600.0, gt=0, description="how long a platform-verified PIN may be used offline")
    offline_max_failures: int = Field(default=5, ge=1, description="wrong offline PINs before the badge needs an online login")
    login_timeout_s: float = Field(default=3.0, gt=0, description="wait for the platform's answer before trying the offline cache")
    pin_hash_n: int = Field(default=2**14, ge=2**10, le=2**20, description="scrypt cost of the cached PIN hash (power of 2)")
    location_pattern: str | None = Field(default=None, description="regex of the site's location codes; default zone-aisle-bay-level")
    location_format: str | None = Field(default=None, description="normal form built from the pattern's named groups")
    allow_bare_awb: bool = Field(default=True, description="count a bare AWB scan as one piece when a task lists no piece labels")
    language: Literal["zh", "en"] = "zh"

    @field_validator("pin_hash_n")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError("pin_hash_n must be a power of 2")
        return value

    @field_validator("location_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"not a regular expression: {err}") from None
        return value


class MetricsSection(_Section):
    """[metrics]: a Prometheus endpoint (/metrics) and a health check (/healthz) over HTTP.
    Without this section the node serves neither."""

    listen: str = Field(default="127.0.0.1:9108", description="host:port to serve on; keep it on loopback "
                        "or a management network (no authentication)")


class StaffMember(_Section):
    """One gate clerk who may act at the console. The PIN is only ever stored hashed."""

    badge: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(default="", max_length=64)
    pin_hash: str = Field(description="scrypt:N:8:1$SALT$HASH, made by 'portedge staff-pin --badge BADGE'")

    @field_validator("pin_hash")
    @classmethod
    def _pin_hash(cls, value: str) -> str:
        if not re.fullmatch(r"scrypt:\d+:8:1\$[0-9a-f]{32}\$[0-9a-f]{64}", value):
            raise ValueError("not a PIN hash: make one with 'portedge staff-pin --badge BADGE'")
        return value


class ConsoleSection(_Section):
    """[console]: the booth console, a web page served by this gate node (docs/console.md).
    Without this section there is none."""

    listen: str = Field(default="127.0.0.1:8480", description="host:port; loopback unless the booth PC is elsewhere "
                        "(then put TLS in front of it)")
    session_idle_s: float = Field(default=900.0, gt=0, description="a session ends after this long without a request")
    session_max_s: float = Field(default=12 * 3600.0, gt=0, description="and after this long in any case (one shift)")
    login_failures: int = Field(default=5, ge=1, description="failed logins per badge or address before a wait")
    login_window_s: float = Field(default=300.0, gt=0, description="the window those failures are counted in")
    staff: list[StaffMember] = Field(default_factory=list)


class NodeConfig(_Section):
    node: NodeSection
    broker: BrokerSection = Field(default_factory=BrokerSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    link: LinkSection = Field(default_factory=LinkSection)
    commands: CommandsSection = Field(default_factory=CommandsSection)
    devices: list[DeviceConfig] = Field(default_factory=list)
    gate: GateSection | None = None
    pda: PdaSection | None = None
    metrics: MetricsSection | None = None
    personnel: PersonnelSection | None = None
    console: ConsoleSection | None = None

    @property
    def client_id(self) -> str:
        return self.broker.client_id or self.node.id

    @model_validator(mode="after")
    def _console_on_a_gate(self) -> NodeConfig:
        if self.console is not None and self.node.role != "gate":
            raise ValueError("[console] is the gate booth's console: only a node with role 'gate' serves one")
        return self

    @model_validator(mode="after")
    def _unique_device_names(self) -> NodeConfig:
        seen: set[str] = set()
        for device in self.devices:
            if device.name in seen:
                raise ValueError(f"device name {device.name!r} is used twice")
            seen.add(device.name)
        return self
