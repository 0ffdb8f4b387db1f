"""What the platform's business looks like, generated from a seed: trucks with pre-advice and
permits for the gate, customs inspection orders (TO_INSPECTION tasks) for the forklifts."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent.contract.gate import Permit
from agent.contract.tasks import Task

PROVINCES = "沪粤浙苏鲁闽津冀辽"
AIRLINE_PREFIXES = ("176", "020", "618", "999", "784", "112")
OWNERS = ("CSQ", "TCN", "TOL", "GYO", "MSK", "OOL", "CMA", "HLX")
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def container_number(rng: random.Random) -> str:
    """A valid ISO 6346 number: owner + U + 6 digits + check digit (computed here, by the rule)."""
    body = rng.choice(OWNERS) + "U" + "".join(rng.choice(string.digits) for _ in range(6))
    values, n = {}, 10
    for letter in string.ascii_uppercase:
        if n % 11 == 0:
            n += 1
        values[letter] = n
        n += 1
    total = sum((values[c] if c.isalpha() else int(c)) * (2**i) for i, c in enumerate(body))
    return body + str(total % 11 % 10)


def awb_number(rng: random.Random) -> str:
    """A valid IATA air waybill: prefix + 7-digit serial + serial mod 7."""
    serial = rng.randrange(10**7)
    return f"{rng.choice(AIRLINE_PREFIXES)}{serial:07d}{serial % 7}"


def plate(rng: random.Random, trailer: bool = True) -> str:
    head = rng.choice(PROVINCES) + rng.choice("ABCDEFGH")
    if trailer:  # container chassis: four characters then 挂
        return head + "".join(rng.choice(_PLATE_CHARS[-10:]) for _ in range(4)) + "挂"
    return head + "".join(rng.choice(_PLATE_CHARS) for _ in range(5))


def location(rng: random.Random) -> str:
    return f"{rng.choice('ABCD')}-{rng.randint(1, 20):02d}-{rng.randint(1, 40):02d}-{rng.randint(1, 4)}"


@dataclass
class Truck:
    """One truck visiting a lane: the truth the cameras and the scale see."""

    plate: str
    containers: list[str]
    type: str
    weight_kg: float
    pre_advised: bool
    refused: bool = False
    yard_position: str = ""


@dataclass
class OrderBook:
    rng: random.Random
    trucks: list[Truck] = field(default_factory=list)

    def truck(self, mix: dict[str, float], permit_coverage: float, deny_rate: float) -> Truck:
        rng = self.rng
        type_ = rng.choices(list(mix), weights=list(mix.values()))[0]
        loaded = type_ in ("DI", "RE")
        boxes = [container_number(rng)] if type_ in ("DI", "RE", "DM", "RM") else []
        t = Truck(plate=plate(rng), containers=boxes, type=type_,
                  weight_kg=float(rng.randrange(22000, 38000, 10) if loaded else rng.randrange(14000, 18000, 10)),
                  pre_advised=rng.random() < permit_coverage, refused=rng.random() < deny_rate,
                  yard_position=f"{rng.choice('ABCDEF')}-{rng.randint(1, 30):02d}-{rng.randint(1, 12):02d}")
        self.trucks.append(t)
        return t

    def permit(self, truck: Truck, now: datetime, n: int) -> Permit:
        return Permit(permit_id=f"P-{n:05d}", plate=truck.plate, containers=truck.containers, type=truck.type,
                      valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=8),
                      yard_position=truck.yard_position)

    def inspection(self, now: datetime, n: int, bay: int) -> Task:
        rng = self.rng
        return Task(task_id=f"T-{now:%Y%m%d}-{n:04d}", kind="TO_INSPECTION", priority=rng.randint(1, 5),
                    due_by=now + timedelta(minutes=rng.randint(15, 90)), awb=awb_number(rng),
                    pieces=rng.randint(1, 4), source_location=location(rng), destination=f"BAY-{bay:02d}",
                    destination_kind="inspection_bay", customs_ref=f"CI-{rng.randint(1000, 9999)}")
