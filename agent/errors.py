"""One exception tree for Port Edge, split by who is at fault.

    PortEdgeError
    ├── LocalError                 our side
    │   ├── BugError               our code broke its own rule (a caller asked for what it must not)
    │   └── OperatorError          the operator's config, arguments or machine (disk, locks)
    └── RemoteError                a peer
        ├── DeviceError            a device or a camera sent something wrong, refused, or went away
        └── PlatformError          the platform (through the broker): bad command, no answer, bad answer

Every error Port Edge raises on purpose is defined here (the storage faults live with
`agent.storage`, `StorageError` and `CorruptDatabase`, under `OperatorError`); tests/test_errors.py
fails on an exception class anywhere in agent/ outside this tree. Built-in bases are kept where
callers rely on them (a timeout is also a `TimeoutError`, a bad topic a `ValueError`), so callers
may catch either. Drivers and the link translate at their edge (`raise ... from err`).

Not to be confused with the gate lane's event `agent.gate.events.PlatformError` (what the lane is
told when a verification failed); this module's `PlatformError` is the family of exceptions.
"""

from __future__ import annotations


class PortEdgeError(Exception):
    """Base of every error raised on purpose by Port Edge."""


class LocalError(PortEdgeError):
    """We (our code, our config, our disk, our caller) are at fault."""


class RemoteError(PortEdgeError):
    """A peer (device, broker, platform) sent something we cannot accept, or did not answer."""


# -- our bug -----------------------------------------------------------------------------------
class BugError(LocalError):
    """Our own code asked for something a rule of ours forbids. Reaching one is a defect to fix
    (the caller should have known), answered safely: nothing is done."""


class IllegalTransition(BugError):
    """A task event the task table has no entry for in the task's state (`agent.tasks.table`)."""

    def __init__(self, state: str, event: str):
        self.state, self.event = state, event
        super().__init__(f"{event} is not possible in state {state}")


class UnsafeCommandError(BugError):
    """An actuating command would endanger someone (e.g. close the barrier on an occupied
    safety loop); the gate I/O driver refused it before it reached the device. The lane's
    guard should never have asked: this is the second line of the safety in depth."""


# -- the operator ------------------------------------------------------------------------------
class OperatorError(LocalError):
    """The operator's config, arguments or machine must change (a file, a disk, a lock)."""


class ConfigError(OperatorError, ValueError):
    """A node configuration is invalid. `problems` holds (key_path, reason) pairs."""

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {key}: {reason}" for key, reason in problems))


class UsageError(OperatorError):
    """A command was given arguments it cannot work with (the CLI exits 2)."""


class TopicError(OperatorError, ValueError):
    """A topic string or segment does not follow the layout (`agent.contract.topics`): a site or
    node name in the config, or a topic argument. A topic received that does not parse is
    counted and dropped by the link, never raised further."""


class StorageFullError(OperatorError):
    """The outbox cannot take more transactional records (cap reached or disk full)."""


class AuditFullError(OperatorError):
    """The audit writer is that far behind (disk stalled or full): the entry was not sealed."""


class NodeAlreadyRunning(OperatorError):
    """Another process holds this storage's lock."""


# -- a device ----------------------------------------------------------------------------------
class DeviceError(RemoteError):
    """A device (scanner, weighbridge, camera, gate controller, card reader) is at fault."""


class ProtocolError(DeviceError):
    """A device broke its wire protocol (bad checksum, impossible frame)."""


class DeviceRefusedError(DeviceError):
    """A device answered a command with a refusal (e.g. the gate controller's own interlock)."""


class DeviceOffline(DeviceError, OSError):
    """The device's port is gone or the device stopped answering."""


class PushRejected(DeviceError):
    """A camera's push we answer with an error status (`agent.codecs.camera_post`);
    `counter` names what went wrong. (A 503 `not_stored` is ours, not the camera's: it is
    still this error because the answer to the camera is what it carries.)"""

    def __init__(self, status: int, counter: str, reason: str):
        super().__init__(reason)
        self.status, self.counter, self.reason = status, counter, reason


# -- the platform ------------------------------------------------------------------------------
class PlatformError(RemoteError):
    """The platform (or the broker between us) is at fault."""


class InvalidCommandError(PlatformError, ValueError):
    """A command from the platform failed validation. `code` is the error response code."""

    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


class CommandExpired(PlatformError):
    """An actuating command reached the barrier after its expiry: never executed."""


class RequestTimeoutError(PlatformError, TimeoutError):
    """The platform did not answer a request in time (or the link is not connected)."""


class InvalidAnswerError(PlatformError, ValueError):
    """The platform answered a request with a message that fails the contract. A requester
    treats it as no answer (the lane decides offline), but it is counted and named as what it is."""
