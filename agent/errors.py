"""One exception tree for Port Edge, split by who is at fault.

- `LocalError`: our own misuse or environment (bad config, storage full).
- `RemoteError`: a peer sent something wrong (garbled frame, invalid command).
Built-in bases are kept (a timeout is also a `TimeoutError`) so callers may catch either.
"""

from __future__ import annotations


class PortEdgeError(Exception):
    """Base of every error raised on purpose by Port Edge."""


class LocalError(PortEdgeError):
    """We (our config, our disk, our caller) are at fault."""


class RemoteError(PortEdgeError):
    """A peer (device, broker, platform) sent something we cannot accept."""


class ConfigError(LocalError, ValueError):
    """A node configuration is invalid. `problems` holds (key_path, reason) pairs."""

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {key}: {reason}" for key, reason in problems))


class UsageError(LocalError):
    """A command was given arguments it cannot work with (the CLI exits 2)."""


class StorageFullError(LocalError):
    """The outbox cannot take more transactional records (cap reached or disk full)."""


class ProtocolError(RemoteError):
    """A device or peer broke its wire protocol (bad checksum, impossible frame)."""


class InvalidCommandError(RemoteError, ValueError):
    """A command from the platform failed validation. `code` is the error response code."""

    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


class RequestTimeoutError(RemoteError, TimeoutError):
    """The platform did not answer a request in time."""


class UnsafeCommandError(LocalError):
    """An actuating command would endanger someone (e.g. close the barrier on an occupied
    safety loop); it was refused before reaching the device."""


class DeviceRefusedError(RemoteError):
    """A device answered a command with a refusal (e.g. the gate controller's own interlock)."""
