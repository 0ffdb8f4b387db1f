r"""The seams between the agent's parts, as protocols. Workflows and drivers depend on these,
not on the outbox, the link or the serial ports, so each is testable alone.

    driver --emit--> runtime --record--> outbox --> link --> broker
                        \--emit--> workflows --request--> link (req/rsp with the platform)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from agent.contract.envelope import Command, Envelope, Response

PriorityClass = Literal["control", "transactional", "telemetry"]

#: a platform command's handler, registered with the link: answers with a body (or None),
#: refuses by raising `agent.errors.InvalidCommandError`
Handler = Callable[[Command], Awaitable[BaseModel | None]]


class Recorder(Protocol):
    """Durable publication. `record` returns only once the message is committed to the outbox
    (it will reach the broker at least once, even across a crash); it raises
    `agent.errors.StorageFullError` when transactional storage is at its cap."""

    async def record(self, type: str, body: BaseModel, priority: PriorityClass = "transactional") -> Envelope: ...


class Requester(Protocol):
    """The node's questions to the platform (req/<name> -> rsp/<name>), with a timeout.
    Raises `agent.errors.RequestTimeoutError` when no answer comes in time."""

    async def request(self, name: str, body: BaseModel, timeout: float) -> Response: ...


class DeviceSink(Protocol):
    """Where drivers hand what their devices said.

    `emit` returns once the runtime has done what durability requires for that event: for a
    scan or a weight that means committed to the outbox, so a driver may acknowledge the
    device (SSI CMD_ACK) only after `await sink.emit(...)` returns. Non-contract events (e.g.
    gate I/O input snapshots) go to the workflows only."""

    async def emit(self, device: str, event: Any) -> None: ...


@runtime_checkable
class Workflow(Protocol):
    """What a node runs on top of its devices: a gate lane (`agent.gate.GateStation`), a
    personnel lane (`agent.personnel.PersonnelStation`) or a PDA's task board
    (`agent.tasks.Board`). The runtime (agent.runtime) holds a list of them and knows no more:

        start()    after the link started (it drains the outbox), before it takes commands:
                   recover what a crash interrupted, put outputs in their safe state, replay
                   unsent records - no command or device event is handled before it;
        run()      after the link takes commands, as a task until cancelled (ticks, reconciling);
                   may return at once;
        emit()     a device's event, already committed to the outbox when it must be
                   (see `DeviceSink`); events for other workflows' devices are ignored;
        close()    after the link stopped taking commands, the devices stopped and `run()` was
                   cancelled; before the link stops publishing.

    `command_handlers()` names the platform commands it takes; `storage_reasons()` is its
    share of the node's health (a corrupt file moved aside, failing writes)."""

    async def start(self) -> object: ...

    async def run(self) -> None: ...

    async def emit(self, device: str, event: Any) -> None: ...

    async def close(self) -> None: ...

    def command_handlers(self) -> Mapping[str, Handler]: ...

    def storage_reasons(self) -> list[str]: ...
