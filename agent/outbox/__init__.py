"""The durable outbox: SQLite, committed before acknowledged, drained by the link on PUBACK."""

from agent.outbox.store import DEFAULT_PUT_TIMEOUT_S, Outbox, OutboxStats, Row

__all__ = ["DEFAULT_PUT_TIMEOUT_S", "Outbox", "OutboxStats", "Row"]
