"""The durable MQTT link: outbox draining, persistent session, commands, requests, birth/death."""

from agent.link.backoff import Backoff
from agent.link.link import Link

__all__ = ["Backoff", "Link"]
