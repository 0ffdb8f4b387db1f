"""The node configuration: one TOML file per node, validated as a whole."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.config.devices import DeviceConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeSection(_Section):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    site: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    role: Literal["gate", "pda"]
    heartbeat_s: float = Field(default=30.0, gt=0)


class BrokerSection(_Section):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = Field(default=None, max_length=64, description="defaults to the node id")
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    mqtt_version: Literal["5", "3.1.1"] = "5"
    session_expiry_s: int = Field(default=86400, ge=0)
    reconnect_base_s: float = Field(default=0.5, gt=0)
    reconnect_cap_s: float = Field(default=30.0, gt=0)
    inflight: int = Field(default=100, ge=1, le=65535, description="unacknowledged QoS 1 publishes at once")

    @field_validator("url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("broker URL must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("broker URL has no host")
        try:
            parts.port
        except ValueError:
            raise ValueError("broker URL port is not a number 1-65535") from None
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @model_validator(mode="after")
    def _cert_pair(self) -> BrokerSection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class ClassCap(_Section):
    max_rows: int = Field(ge=1)
    max_bytes: int = Field(ge=1024)
    max_age_s: float | None = Field(default=None, gt=0, description="telemetry only: older rows are dropped")


def _default_caps() -> dict[str, ClassCap]:
    return {
        "control": ClassCap(max_rows=10_000, max_bytes=16 * 2**20),
        "transactional": ClassCap(max_rows=1_000_000, max_bytes=1024 * 2**20),
        "telemetry": ClassCap(max_rows=100_000, max_bytes=64 * 2**20, max_age_s=86400.0),
    }


class StorageSection(_Section):
    path: Path = Path("var/portedge.db")
    synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    group_commit_ms: float = Field(default=2.0, ge=0, le=100)
    caps: dict[Literal["control", "transactional", "telemetry"], ClassCap] = Field(default_factory=_default_caps)

    @field_validator("caps")
    @classmethod
    def _all_classes(cls, value: dict) -> dict:
        merged = _default_caps()
        merged.update(value)
        return merged


class NodeConfig(_Section):
    node: NodeSection
    broker: BrokerSection = Field(default_factory=BrokerSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    devices: list[DeviceConfig] = Field(default_factory=list)

    @property
    def client_id(self) -> str:
        return self.broker.client_id or self.node.id

    @model_validator(mode="after")
    def _unique_device_names(self) -> NodeConfig:
        seen: set[str] = set()
        for device in self.devices:
            if device.name in seen:
                raise ValueError(f"device name {device.name!r} is used twice")
            seen.add(device.name)
        return self
