"""Scenarios: a declarative description of a simulated port run, replayable from a seed.

A scenario file (TOML) names the lanes and PDAs, the truck traffic (arrival rate, mix of
transaction types, misread rate, how many trucks hold a permit), the inspection orders per
hour, and the faults with the second they happen at. `Scenario.timeline(rng)` expands it into
a sorted list of `Happening`s — the same seed gives the same run.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.config.load import key_path
from agent.errors import ConfigError

FaultKind = Literal[
    "broker_restart",      # the broker goes down for `duration_s`, then comes back
    "platform_silence",    # the platform receives but answers nothing for `duration_s`
    "network_cut",         # the fault proxy resets every agent<->broker connection
    "network_stall",       # the fault proxy holds bytes for `duration_s`
    "serial_unplug",       # a device port disappears for `duration_s` (target: device name)
    "serial_garbage",      # random bytes injected into a device line (target: device name)
    "agent_kill",          # kill -9 of a node's agent process, restarted after `duration_s` (target: node)
    "bad_commands",        # the platform sends commands the node must refuse (target: node; see faults/commands.py)
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Traffic(_Model):
    trucks_per_hour: float = Field(default=120.0, ge=0, description="per lane")
    mix: dict[Literal["DI", "RE", "DM", "RM"], float] = Field(default_factory=lambda: {"DI": 0.4, "RE": 0.4, "DM": 0.1, "RM": 0.1})
    misread_rate: float = Field(default=0.05, ge=0, le=1, description="share of OCR reads that come out wrong")
    permit_coverage: float = Field(default=0.9, ge=0, le=1, description="share of trucks with a pre-advice and permit")
    deny_rate: float = Field(default=0.05, ge=0, le=1, description="share of pre-advised trucks the platform refuses")


class Orders(_Model):
    inspections_per_hour: float = Field(default=60.0, ge=0, description="per PDA")
    cancel_rate: float = Field(default=0.05, ge=0, le=1)
    reassign_rate: float = Field(default=0.05, ge=0, le=1)


#: kinds of person at a turnstile (simulators/people_traffic.py plays each)
Kind = Literal["valid", "dated", "expired", "blacklisted", "tailgating", "pulled", "badge"]


class PeopleTraffic(_Model):
    people_per_hour: float = Field(default=360.0, ge=0, description="per turnstile")
    mix: dict[Kind, float] = Field(default_factory=lambda: {"valid": 7, "dated": 2, "expired": 1, "blacklisted": 1,
                                                            "tailgating": 1, "pulled": 1, "badge": 3})


class Fault(_Model):
    at_s: float = Field(ge=0)
    kind: FaultKind
    duration_s: float = Field(default=5.0, ge=0)
    target: str | None = None


class Scenario(_Model):
    name: str
    seed: int = 1
    duration_s: float = Field(default=60.0, gt=0)
    site: str = "yantian"
    lanes: int = Field(default=2, ge=0, le=50)
    pdas: int = Field(default=3, ge=0, le=200)
    turnstiles: int = Field(default=0, ge=0, le=10, description="restricted-area turnstile lanes (simulators/people_traffic.py)")
    platform_delay_s: float = Field(default=0.05, ge=0)
    traffic: Traffic = Field(default_factory=Traffic)
    orders: Orders = Field(default_factory=Orders)
    people: PeopleTraffic = Field(default_factory=PeopleTraffic)
    faults: list[Fault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _faults_inside_the_run(self) -> Scenario:
        for i, fault in enumerate(self.faults):
            if fault.at_s >= self.duration_s:
                raise ValueError(f"faults[{i}] at {fault.at_s}s is after the end of the run ({self.duration_s}s)")
        return self

    @property
    def lane_ids(self) -> list[str]:
        return [f"lane-{i + 1}" for i in range(self.lanes)]

    @property
    def turnstile_ids(self) -> list[str]:
        return [f"apron-{i + 1}" for i in range(self.turnstiles)]

    @property
    def pda_ids(self) -> list[str]:
        return [f"pda-{i + 1}" for i in range(self.pdas)]

    def timeline(self, rng: random.Random | None = None) -> list[Happening]:
        """Every truck arrival, inspection order and fault, in time order, from the seed."""
        rng = rng or random.Random(self.seed)
        out: list[Happening] = []
        for lane in self.lane_ids:
            out += _poisson(rng, self.traffic.trucks_per_hour, self.duration_s, "truck", lane)
        for pda in self.pda_ids:
            out += _poisson(rng, self.orders.inspections_per_hour, self.duration_s, "order", pda)
        for turnstile in self.turnstile_ids:
            out += _poisson(rng, self.people.people_per_hour, self.duration_s, "person", turnstile)
        out += [Happening(f.at_s, f.kind, f.target, f.duration_s) for f in self.faults]
        return sorted(out, key=lambda h: (h.at_s, h.what, h.target or ""))


@dataclass(frozen=True)
class Happening:
    at_s: float
    what: str
    target: str | None = None
    duration_s: float = 0.0


def _poisson(rng: random.Random, per_hour: float, duration_s: float, what: str, target: str) -> list[Happening]:
    if per_hour <= 0:
        return []
    t, out = 0.0, []
    while True:
        t += rng.expovariate(per_hour / 3600.0)
        if t >= duration_s:
            return out
        out.append(Happening(round(t, 3), what, target))


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(str(path), [("(file)", err.strerror or str(err))]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), [("(toml)", str(err))]) from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(str(path), [(key_path(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in err.errors()]) from None


SCENARIO_DIR = Path(__file__).parent / "scenarios"
