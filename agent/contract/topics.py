"""MQTT topics as values: built and parsed in one place.

Layout (version in the prefix, one subtree per node so a broker ACL can confine it):

    portedge/v1/{site}/{node}/state          retained birth/death state      node -> platform
    portedge/v1/{site}/{node}/evt/{type}     events and records              node -> platform
    portedge/v1/{site}/{node}/req/{name}     the node's questions            node -> platform
    portedge/v1/{site}/{node}/rsp/{name}     the platform's answers          platform -> node
    portedge/v1/{site}/{node}/cmd/{name}     commands                        platform -> node
    portedge/v1/{site}/{node}/res/{name}     command responses               node -> platform

A node may publish only to state, evt/#, req/# and res/# of its own subtree and subscribe only
to cmd/# and rsp/# of it; agent/contract/broker.py writes that as a mosquitto ACL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from agent.errors import TopicError

PREFIX = "portedge"
VERSION = "v1"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Kind(StrEnum):
    STATE = "state"
    EVT = "evt"
    REQ = "req"
    RSP = "rsp"
    CMD = "cmd"
    RES = "res"


#: who publishes each kind: the node ("node") or the platform ("platform")
PUBLISHER = {
    Kind.STATE: "node",
    Kind.EVT: "node",
    Kind.REQ: "node",
    Kind.RES: "node",
    Kind.RSP: "platform",
    Kind.CMD: "platform",
}


def check_segment(value: str, what: str) -> str:
    if not _SEGMENT.fullmatch(value):
        raise TopicError(
            f"{what} {value!r} must be 1-64 characters of letters, digits, '_', '.', '-' "
            "and start with a letter or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    node: str
    kind: Kind
    name: str | None = None

    def __post_init__(self) -> None:
        check_segment(self.site, "site")
        check_segment(self.node, "node")
        if self.kind is Kind.STATE:
            if self.name is not None:
                raise TopicError("a state topic has no name")
        elif self.name is None:
            raise TopicError(f"a {self.kind} topic needs a name")
        else:
            check_segment(self.name, "name")

    def __str__(self) -> str:
        base = f"{PREFIX}/{VERSION}/{self.site}/{self.node}/{self.kind}"
        return base if self.name is None else f"{base}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> Topic:
        parts = text.split("/")
        if len(parts) < 5 or parts[0] != PREFIX:
            raise TopicError(f"not a Port Edge topic: {text!r}")
        if parts[1] != VERSION:
            raise TopicError(f"unsupported contract version {parts[1]!r} in {text!r}")
        try:
            kind = Kind(parts[4])
        except ValueError:
            raise TopicError(f"unknown topic kind {parts[4]!r} in {text!r}") from None
        if kind is Kind.STATE:
            if len(parts) != 5:
                raise TopicError(f"a state topic has no name: {text!r}")
            return cls(parts[2], parts[3], kind)
        if len(parts) != 6:
            raise TopicError(f"expected {PREFIX}/{VERSION}/site/node/{kind}/name: {text!r}")
        return cls(parts[2], parts[3], kind, parts[5])


def state(site: str, node: str) -> Topic:
    return Topic(site, node, Kind.STATE)


def evt(site: str, node: str, type_: str) -> Topic:
    return Topic(site, node, Kind.EVT, type_)


def node_filter(site: str, node: str, kind: Kind) -> str:
    """Subscription filter for one kind of one node, e.g. `portedge/v1/s/n/cmd/+`."""
    check_segment(site, "site")
    check_segment(node, "node")
    if kind is Kind.STATE:
        return f"{PREFIX}/{VERSION}/{site}/{node}/state"
    return f"{PREFIX}/{VERSION}/{site}/{node}/{kind}/+"


def site_filter(site: str, kind: Kind, name: str = "+") -> str:
    """Platform-side filter across every node of a site, e.g. `portedge/v1/s/+/evt/+`."""
    check_segment(site, "site")
    if kind is Kind.STATE:
        return f"{PREFIX}/{VERSION}/{site}/+/state"
    return f"{PREFIX}/{VERSION}/{site}/+/{kind}/{name}"
