"""The durable MQTT link: outbox draining, persistent session, commands, requests, birth/death."""

from agent.link.link import Link

__all__ = ["Link"]
