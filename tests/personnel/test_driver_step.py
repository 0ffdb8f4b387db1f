"""The truck lane's driver step ([gate] driver_reader; off by default): the lane waits in
WEIGHED for the driver's card, sends it (key and mask only) with gate_verify so the platform
decides driver, truck and boxes together, refuses an unusable card, and times out to TROUBLE.
The platform simulator denies a truck whose appointment names another driver."""

from __future__ import annotations

import os
from datetime import date

from agent.clock import FakeClock
from agent.config.model import GateSection
from agent.contract.devices import CameraRead
from agent.contract.gate import VerifyRequest
from agent.gate import events as ev
from agent.gate.events import State
from agent.gate.lane import Lane
from agent.gate.table import TABLE
from agent.personnel.identity import driver_ref
from agent.personnel.privacy import SiteKey
from simulators.platform import PlatformSim, Preadvice

from .kit import EXPIRED, T0, VALID, card

KEY = SiteKey(os.urandom(32))
TODAY = date(2026, 6, 1)
PLATE, BOX = "沪A12345", "CSQU3054383"


def lane(driver_reader: str | None) -> Lane:
    settings = GateSection(lane="lane-1", container_positions=["front"], state_path=":memory:",
                           driver_reader=driver_reader)
    return Lane(settings, TABLE, FakeClock(T0))


def to_weighed(lane: Lane) -> list:
    out = lane.handle(ev.Safety(False)) + lane.handle(ev.Photocell(False)) + lane.handle(ev.Approach(True))
    out += lane.handle(ev.Read(CameraRead(device="cam", target="plate", text=PLATE, confidence=0.95, position="front")))
    out += lane.handle(ev.Read(CameraRead(device="cam", target="container", text=BOX, confidence=0.95, position="front")))
    return out


def sends(actions) -> list[VerifyRequest]:
    return [a.request for a in actions if isinstance(a, ev.SendVerify)]


def test_off_by_default_no_wait_for_a_driver():
    lane_ = lane(None)
    (request,) = sends(to_weighed(lane_))
    assert request.driver is None and lane_.state is State.VERIFYING


def test_the_lane_waits_for_the_driver_and_sends_key_and_mask():
    lane_ = lane("id-9")
    assert sends(to_weighed(lane_)) == [] and lane_.state is State.WEIGHED
    ref, problem = driver_ref(card(VALID), KEY, TODAY)
    assert problem == "" and ref.masked == "110105********002X" and ref.card_valid_until == "long_term"
    (request,) = sends(lane_.handle(ev.DriverCard(ref, problem)))
    assert request.driver == ref and lane_.state is State.VERIFYING
    assert "11010519491231002X" not in request.model_dump_json()


def test_an_expired_driver_card_goes_to_trouble_and_no_card_times_out():
    lane_ = lane("id-9")
    to_weighed(lane_)
    ref, problem = driver_ref(card(EXPIRED), KEY, TODAY)
    lane_.handle(ev.DriverCard(ref, problem))
    assert lane_.state is State.TROUBLE and "expired" in lane_.tx.trouble_reason
    other = lane("id-9")
    to_weighed(other)
    other.clock.advance(31)
    other.handle(ev.Tick())
    assert other.state is State.TROUBLE and "not presented" in other.tx.trouble_reason


def test_the_platform_decides_driver_truck_and_boxes_together():
    ref, _ = driver_ref(card(VALID), KEY, TODAY)
    other, _ = driver_ref(card(EXPIRED), KEY, TODAY)
    sim = PlatformSim("mqtt://127.0.0.1:1", "yt")  # never started: only its decision is used
    sim.add_preadvice(Preadvice(PLATE, [BOX], driver_key=ref.person_key))
    ask = dict(transaction_id="t1", lane="lane-1", plate=PLATE, containers=[BOX])
    assert sim.decide(VerifyRequest(**ask, driver=ref)).allow
    assert sim.decide(VerifyRequest(**ask, driver=other)).reason == "driver not on the appointment"
    assert not sim.decide(VerifyRequest(**ask)).allow
