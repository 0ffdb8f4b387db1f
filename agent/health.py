"""Assemble the node's Health (agent.contract.node.Health) from the outbox and the link.

Used by the link (birth and heartbeat) and by `portedge status` (from the local database).
This module must never open a network connection or write to the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from agent.contract.node import ClassDepth, Health, PriorityClass
from agent.outbox import OutboxStats


def outbox_depths(stats: OutboxStats) -> dict[PriorityClass, ClassDepth]:
    # the outbox's class names are the contract's (Health validates every key it is given)
    return {
        cast(PriorityClass, name): ClassDepth(rows=stats.rows[name], bytes=stats.bytes[name], oldest_age_s=stats.oldest_age_s[name],
                         dropped=stats.dropped[name])
        for name in stats.rows
    }


def assemble(connected: bool, stats: OutboxStats, link_errors: Mapping[str, int] | None = None,
             link_reasons: list[str] | None = None, broker: str | None = None) -> Health:
    """`degraded` lists every reason an operator should look, link reasons first."""
    errors = dict(link_errors or {})
    for kind, count in stats.errors.items():
        errors[f"outbox_{kind}"] = count
    return Health(connected=connected, broker=broker, outbox=outbox_depths(stats), errors=errors,
                  degraded=list(link_reasons or []) + stats.degraded())
