"""Gate controller stub, no network: the barrier's physical model and the Modbus image it
serves, driven by a FakeClock. Proves the controller's own interlock whatever the host asks."""

from __future__ import annotations

import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException

from agent.clock import FakeClock
from agent.config.devices import GateIoMap
from firmware_stubs.gate_barrier import BarrierModel
from firmware_stubs.gate_controller import GateController

M = GateIoMap()


def model(**kw) -> tuple[BarrierModel, FakeClock]:
    clock = FakeClock()
    kw.setdefault("watchdog_s", 0)
    return BarrierModel(clock=clock, travel_s=4.0, **kw), clock


def run(m: BarrierModel, clock: FakeClock, seconds: float, step: float = 0.1) -> None:
    """Let time pass with the host polling (feeds the watchdog) every `step`."""
    t = 0.0
    while t < seconds - 1e-9:
        clock.advance(step)
        m.host_request()
        t += step


def test_open_makes_the_open_limit_after_the_travel_time():
    m, clock = model()
    assert m.closed_limit and not m.open_limit
    assert m.command(open=True) == ""
    run(m, clock, 2.0)
    assert not m.open_limit and not m.closed_limit and m.position == pytest.approx(0.5)
    run(m, clock, 2.1)
    assert m.open_limit and m.motion == "idle"
    assert [x.what for x in m.movements()] == ["opening", "opened"]


def test_close_is_refused_on_an_occupied_safety_loop_and_on_a_broken_photocell():
    m, clock = model()
    m.command(open=True)
    run(m, clock, 5)
    m.set_loop("safety", True)
    assert m.command(open=False, close=True) == "safety loop occupied"
    assert not m.close_cmd and m.open_cmd  # a refused write leaves the coils as they were
    m.set_loop("safety", False)
    m.set_photocell(True)
    assert m.command(open=False, close=True) == "photocell broken"
    run(m, clock, 5)
    assert m.open_limit
    m.set_photocell(False)
    assert m.command(open=False, close=True) == ""
    run(m, clock, 5)
    assert m.closed_limit and m.violations == []


def test_a_faulted_safety_loop_reads_as_occupied_and_blocks_closing():
    m, clock = model()
    m.command(open=True)
    run(m, clock, 5)
    m.set_loop_fault("safety", True)
    assert m.occupied("safety")
    assert m.command(open=False, close=True) == "safety loop occupied"


def test_closing_reverses_when_a_truck_enters_the_safety_loop():
    m, clock = model()
    m.command(open=True)
    run(m, clock, 5)
    m.command(open=False, close=True)
    run(m, clock, 1.0)
    low = m.position
    assert m.motion == "closing" and low < 1.0
    m.truck_under_barrier()
    assert m.motion == "opening" and not m.close_cmd
    run(m, clock, 5)
    assert m.open_limit
    whats = [x.what for x in m.movements()]
    assert whats == ["opening", "opened", "closing", "reverse", "opened"]
    reverse = next(x for x in m.audit if x.what == "reverse")
    assert reverse.safety and reverse.position == pytest.approx(low)
    assert m.violations == []


def test_two_coils_at_once_and_e_stop_are_refused():
    m, clock = model()
    assert m.command(open=True, close=True) == "open and close both commanded"
    m.command(open=True)
    run(m, clock, 1)
    m.set_estop(True)
    assert m.motion == "idle"
    position = m.position
    run(m, clock, 5)
    assert m.position == position  # no motion at all under e-stop
    assert m.command(open=False, close=True) == "e-stop active"


def test_watchdog_forces_the_safe_state_when_the_host_goes_silent():
    m, clock = model(watchdog_s=2.0)
    m.host_request()
    m.command(open=True)
    m.red, m.green = False, True
    clock.advance(1.0)
    m.update()
    assert m.motion == "opening" and not m.watchdog_tripped
    clock.advance(1.5)  # 2.5 s since the last request
    m.update()
    assert m.watchdog_tripped and m.motion == "idle"
    assert (m.open_cmd, m.close_cmd, m.red, m.green) == (False, False, True, False)
    # the barrier stopped where it was when the host fell silent, 2 s into a 4 s travel
    assert m.position == pytest.approx(0.5)
    clock.advance(3)
    m.update()
    assert m.position == pytest.approx(0.5)
    m.host_request()
    assert not m.watchdog_tripped


def test_travel_jitter_is_deterministic_with_a_seed():
    def travel_times(seed: int) -> list[float]:
        m, clock = model(rng=random.Random(seed), travel_jitter=0.2)
        times = []
        for _ in range(3):
            for cmd in ({"open": True, "close": False}, {"open": False, "close": True}):
                m.command(**cmd)
                start = clock.monotonic()
                while m.motion != "idle":
                    clock.advance(0.01)
                    m.update()
                times.append(round(clock.monotonic() - start, 2))
        return times

    assert travel_times(3) == travel_times(3)
    assert travel_times(3) != travel_times(4)
    assert all(3.2 - 0.02 <= t <= 4.8 + 0.02 for t in travel_times(3))


def test_modbus_image_follows_the_map_and_active_low_wiring():
    clock = FakeClock()
    c = GateController(clock=clock, watchdog_s=0)
    bits = c.read(1, 2, 0, 8)
    # closed limit made, beam intact (input ON), e-stop chain healthy (input ON)
    assert bits == [False, False, False, False, True, True, True, False]
    c.model.truck_under_barrier()
    c.model.set_estop(True)
    bits = c.read(1, 2, 0, 8)
    assert bits[M.safety_loop] and not bits[M.photocell] and not bits[M.estop]
    assert c.read(1, 2, 30, 4) == ExcCodes.ILLEGAL_ADDRESS
    with pytest.raises(NoSuchIdException):
        c.read(2, 2, 0, 8)  # another unit's address: this module stays silent


def test_a_coil_write_goes_through_the_interlock():
    c = GateController(clock=FakeClock(), watchdog_s=0)
    assert c.write_coils(1, M.barrier_open, [True]) is None
    c.model.clock.advance(5)
    c.model.update()
    c.model.set_loop("safety", True)
    # FC15 over all four outputs: open off, close on, red, green
    assert c.write_coils(1, M.barrier_open, [False, True, True, False]) == ExcCodes.DEVICE_BUSY
    assert c.coils()[M.barrier_open] and not c.coils()[M.barrier_close]
    assert c.refusals == ["safety loop occupied"]
    c.model.set_loop("safety", False)
    assert c.write_coils(1, M.barrier_open, [False, True, True, False]) is None
    assert c.coils()[M.barrier_close : M.light_green + 1] == [True, True, False]


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0.05, 3.0)),
        st.tuples(st.just("advance"), st.floats(0.05, 0.9)),
        st.tuples(st.just("command"), st.sampled_from([(True, False), (False, True), (False, False)])),
        st.tuples(st.just("loop"), st.sampled_from(["approach", "safety", "exit"]), st.booleans()),
        st.tuples(st.just("photocell"), st.booleans()),
        st.tuples(st.just("fault"), st.booleans()),
        st.tuples(st.just("estop"), st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_ops)
# the two ways a barrier could come down on a truck, always tried besides the random ones
@example([("command", (True, False)), ("advance", 0.5), ("command", (False, True)), ("loop", "safety", True), ("advance", 0.5)])
@example([("command", (True, False)), ("advance", 0.5), ("photocell", True), ("command", (False, True)), ("advance", 0.5)])
def test_no_barrier_ever_comes_down_on_a_truck(ops):
    """Whatever the host commands and the lane does, the barrier only moves down while the
    safety loop is clear and the photocell intact (checked here, independently of the model's
    own bookkeeping, and by its audit)."""
    m, clock = model(watchdog_s=1.0)
    for op in ops:
        kind = op[0]
        if kind == "advance":
            before = m.position
            unsafe = m.occupied("safety") or m.photocell_broken or m.estop
            clock.advance(op[1])
            m.host_request() if op[1] < 1.0 else m.update()
            if unsafe:
                assert m.position >= before, f"barrier came down on a truck: {before} -> {m.position}"
        elif kind == "command":
            m.command(open=op[1][0], close=op[1][1])
        elif kind == "loop":
            m.set_loop(op[1], op[2])
        elif kind == "photocell":
            m.set_photocell(op[1])
        elif kind == "fault":
            m.set_loop_fault("safety", op[1])
        else:
            m.set_estop(op[1])
        assert 0.0 <= m.position <= 1.0
    assert m.violations == []
    for moment in m.audit:
        if moment.what == "closing":
            assert not (moment.safety or moment.photocell_broken or moment.estop)
