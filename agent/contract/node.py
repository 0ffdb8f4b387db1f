"""Node-level messages: birth/death state, health, device status."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from agent.contract.envelope import Strict

PriorityClass = Literal["control", "transactional", "telemetry", "answers"]
#: a device as its driver reports it
DeviceState = Literal["online", "offline", "error"]


class ClassDepth(Strict):
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)
    oldest_age_s: float | None = Field(default=None, ge=0)
    dropped: int = Field(default=0, ge=0, description="rows dropped by the cap policy since start")


class Health(Strict):
    """What an operator needs to know at a glance. `degraded` lists reasons, empty when fine."""

    connected: bool
    broker: str | None = Field(default=None, description="the broker address the node is on (or was last on), "
                               "one of its failover list; no password")
    outbox: dict[PriorityClass, ClassDepth] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict, description="counters by error kind")
    degraded: list[str] = Field(default_factory=list)


class NodeState(Strict):
    """Retained on `state`: birth (online), clean shutdown (offline) and last will (lost)."""

    status: Literal["online", "offline", "lost"]
    role: Literal["gate", "pda"]
    version: str
    devices: list[str] = Field(default_factory=list)
    outbox_depth: int = Field(default=0, ge=0)
    health: Health | None = None
    since: AwareDatetime | None = None


class DeviceStatus(Strict):
    """A device driver's view of its port: sent on every change and with the heartbeat."""

    device: str
    kind: str
    status: DeviceState
    detail: str = ""
    counters: dict[str, int] = Field(default_factory=dict, description="frames, garbled, reconnects, ...")


class AuditHead(Strict):
    """The newest entry of a gate's hash-chained audit log: a rewritten history shows as a
    head that no longer matches what earlier heartbeats said."""

    seq: int = Field(ge=0, description="entries in the log")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the newest entry")


class Heartbeat(Strict):
    uptime_s: float = Field(ge=0)
    health: Health
    audit: AuditHead | None = Field(default=None, description="gate nodes: the audit log's chain head")
