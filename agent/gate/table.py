"""The gate lane's transition table: (state, event kind) -> rule, with the states each rule
may lead to. docs/gate.md's diagram is rendered from this table (agent/gate/diagram.py).

Invariants of the table (the lane checks the targets at run time):
- every rule returns one of its declared targets; a (state, event) pair not in the table is
  ignored and counted, never an error: devices say things at odd moments;
- the only rules that emit CloseBarrier (`passed_tick`, `open_tick`, `staff_close`) do so only when
  `lane.lane_clear_for_close()` holds at that moment;
- OpenBarrier is emitted only by `decided` with an allowing Decision;
- a staff or platform command (StaffRelease, Reread, CorrectContainer, StaffDeny, StaffClose)
  the lane cannot carry out is refused here, with the reason its caller answers: a rule emits
  `Refuse` and stays (the table's rows for any state say why a state has no rule of its own);
  a release is refused while the guard's `Interlock` is not safe;
- every waiting state arms a deadline (Tick rules handle it); pass-through states
  (IDENTIFIED without a scale, WEIGHED, DECIDED, CLOSED) leave on Advance; WEIGHED waits
  (`driver_s`) for the driver's card only on a lane with a `driver_reader` (off by default).

Never: I/O, sleeping, or reading time other than through `lane.now` / `lane.clock`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.contract.gate import ContainerRead, Decision, VerifyRequest
from agent.gate import events as ev
from agent.gate.events import State
from agent.identifiers.container import check_container
from agent.lane_table import Rule

if TYPE_CHECKING:
    from agent.gate.lane import Lane

S = State


# -- starting and ending ---------------------------------------------------------------------

def idle_arrival(lane: Lane, event: ev.Event) -> State:
    if not lane.approach:
        return S.IDLE
    if lane.mode == "closed":
        lane.show("LANE CLOSED")
        return S.IDLE
    lane.start()
    lane.show("WELCOME - READING")
    lane.arm("identify", lane.settings.identify_s)
    return S.ARRIVED


def backout_watch(lane: Lane, event: ev.Event) -> State:
    """Approach loop changed before the barrier opened: start or stop the back-out debounce."""
    if isinstance(event, ev.Approach) and not event.occupied:
        lane.backout_at = lane.now + lane.settings.debounce_s
    else:
        lane.backout_at = None
    return lane.state


def _backed_out(lane: Lane) -> bool:
    return lane.backout_at is not None and lane.now >= lane.backout_at and lane.lane_empty()


def _end_unpassed(lane: Lane) -> State:
    tx = lane.tx
    assert tx is not None
    lane.show("")
    if tx.decision is not None and not tx.decision.allow:
        return lane.finish("denied")
    if lane.state is S.TROUBLE:
        return lane.finish("trouble")
    return lane.finish("cancelled", "truck backed out")


# -- identification --------------------------------------------------------------------------

def arrived_read(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.Read) and lane.tx is not None
    read, tx, cfg = event.read, lane.tx, lane.settings
    tx.reads.append(read)
    if read.target == "plate":
        checked = lane.plates.check(read.text)
        if read.confidence >= cfg.plate_confidence and checked.ok:
            tx.plate, tx.plate_number = read, checked.value
        else:
            lane.counters["misread.plate"] += 1
    else:
        if read.confidence < cfg.container_confidence:
            lane.counters["misread.container"] += 1
        else:
            checked = check_container(read.text)
            if checked.value is None:
                return lane.trouble("check_digit", f"container {read.position} {read.text}: {checked.reason}")
            tx.containers[read.position] = ContainerRead(
                number=checked.value, position=read.position, confidence=read.confidence, valid=True,
                image_ref=read.image_ref)
            numbers = sorted({c.number for c in tx.containers.values()})
            if len(numbers) > 1 and not cfg.twin_boxes:
                return lane.trouble("disagree", f"front/rear container numbers disagree: {' vs '.join(numbers)}")
    if tx.plate_number and all(p in tx.containers for p in cfg.container_positions):
        return S.IDENTIFIED
    return S.ARRIVED


def arrived_tick(lane: Lane, event: ev.Event) -> State:
    tx = lane.tx
    assert tx is not None
    if _backed_out(lane):
        return _end_unpassed(lane)
    if not lane.due():
        return S.ARRIVED
    if tx.plate_number and not tx.containers and lane.settings.allow_no_container:
        return S.IDENTIFIED
    missing = [p for p in lane.settings.container_positions if p not in tx.containers]
    what = ("plate" if not tx.plate_number else "") + (f" container {'/'.join(missing)}" if missing else "")
    return lane.trouble("misread", f"could not read {what.strip()}")


def keep_weight(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.Weighed)
    if lane.tx is not None and lane.is_truck_weight(event.weight):
        lane.tx.weight = event.weight
    return lane.state


def identified_advance(lane: Lane, event: ev.Event) -> State:
    assert lane.tx is not None
    if lane.settings.scale is None or lane.tx.weight is not None:
        return S.WEIGHED
    if lane.deadline is None:
        lane.arm("weigh", lane.settings.weigh_s)
    return S.IDENTIFIED


def identified_tick(lane: Lane, event: ev.Event) -> State:
    if _backed_out(lane):
        return _end_unpassed(lane)
    if lane.due():
        return lane.trouble("weight", "no stable weight from the weighbridge")
    return S.IDENTIFIED


def keep_driver(lane: Lane, event: ev.Event) -> State:
    """The driver's card at a lane that checks drivers: kept for the verify request, or
    TROUBLE when the card itself is not usable (bad number, expired)."""
    assert isinstance(event, ev.DriverCard)
    if lane.tx is None or lane.settings.driver_reader is None:
        return lane.state
    if event.problem:
        return lane.trouble("driver", f"driver card {event.driver.masked}: {event.problem}")
    lane.tx.driver = event.driver
    return lane.state


def weighed_tick(lane: Lane, event: ev.Event) -> State:
    if _backed_out(lane):
        return _end_unpassed(lane)
    if lane.due():
        return lane.trouble("driver", "the driver's ID card was not presented")
    return S.WEIGHED


def weighed_advance(lane: Lane, event: ev.Event) -> State:
    tx = lane.tx
    assert tx is not None
    if lane.settings.driver_reader is not None and tx.driver is None:  # the driver step (off by default)
        if lane.deadline is None:
            lane.show("DRIVER: PLEASE PRESENT YOUR ID CARD")
            lane.arm("driver", lane.settings.driver_s)
        return S.WEIGHED
    tx.request = lane.verify_request()
    lane.emit(ev.SendVerify(tx.request, lane.settings.verify_s))
    lane.show("CHECKING")
    lane.arm("verify", lane.settings.verify_s)
    return S.VERIFYING


# -- verification ----------------------------------------------------------------------------

def _ours(lane: Lane, transaction_id: str) -> bool:
    if lane.tx is None or lane.tx.transaction_id != transaction_id:
        lane.counters["stale_answer"] += 1
        return False
    return True


def _current(lane: Lane, request: VerifyRequest | None) -> bool:
    """An answer (or timeout, or error) about an earlier request of this transaction — one sent
    before a re-read changed the reads — is not about this truck's current reads."""
    if request is not None and lane.tx is not None and lane.tx.request is not None and request != lane.tx.request:
        lane.counters["stale_answer"] += 1
        return False
    return True


def verifying_verdict(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.Verdict)
    a = event.answer
    if not _ours(lane, a.transaction_id) or not _current(lane, event.request):
        return lane.state
    tx = lane.tx
    assert tx is not None
    if lane.state is S.TROUBLE and tx.trouble_kind != "timeout":
        return S.TROUBLE  # a late answer does not clear a misread or a disagreement
    tx.decision = Decision(allow=a.allow, by="platform", reason=a.reason, ticket=a.ticket, yard_position=a.yard_position)
    tx.type, tx.offline, tx.offline_pending = a.type, False, False
    tx.trouble_kind = tx.trouble_reason = None
    return S.DECIDED


def _consult(lane: Lane) -> State:
    tx = lane.tx
    assert tx is not None
    tx.offline_pending = True
    lane.emit(ev.ConsultPermits(tx.transaction_id, tx.plate_number,
                                tuple(c.number for c in tx.containers.values()), lane.clock.now()))
    lane.show("CHECKING (OFFLINE)")
    lane.arm("permit", lane.settings.permit_lookup_s)
    return S.VERIFYING


def verifying_timeout(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.PlatformTimeout) and lane.tx is not None
    if not _ours(lane, event.transaction_id) or not _current(lane, event.request) or lane.tx.offline_pending:
        return S.VERIFYING
    return _consult(lane)


def verifying_error(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.PlatformError)
    if not _ours(lane, event.transaction_id) or not _current(lane, event.request):
        return S.VERIFYING
    return lane.trouble("platform_error", f"platform error: {event.reason}")


def verifying_tick(lane: Lane, event: ev.Event) -> State:
    tx = lane.tx
    assert tx is not None
    if _backed_out(lane):
        return _end_unpassed(lane)
    if not lane.due():
        return S.VERIFYING
    if not tx.offline_pending:
        return _consult(lane)
    return lane.trouble("timeout", "platform did not answer; permits could not be checked")


def verifying_permit(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.PermitLookup)
    if not _ours(lane, event.transaction_id):
        return S.VERIFYING
    tx = lane.tx
    assert tx is not None
    if not tx.offline_pending:
        return S.VERIFYING
    tx.offline_pending = False
    p = event.permit
    if p is None:
        return lane.trouble("timeout", "platform did not answer and no permit matches")
    tx.decision = Decision(allow=True, by="offline", reason="offline permit", ticket=f"permit {p.permit_id}",
                           yard_position=p.yard_position, permit_id=p.permit_id)
    tx.type, tx.offline = p.type, True
    lane.emit(ev.AwaitReconcile(tx.request or lane.verify_request(), tx.decision))
    return S.DECIDED


def decided(lane: Lane, event: ev.Event) -> State:
    tx = lane.tx
    assert tx is not None and tx.decision is not None
    d = tx.decision
    if not d.allow:
        tx.trouble_kind, tx.trouble_reason = "deny", d.reason or "denied by the platform"
        lane.counters["trouble.deny"] += 1
        lane.show(f"DENIED: {tx.trouble_reason}")
        lane.arm("trouble", lane.settings.trouble_nag_s)
        return S.TROUBLE
    if lane.mode in ("manual", "closed") and d.by != "staff":
        # a lane closed while a truck was already in it opens only for staff, as in manual
        return lane.trouble(lane.mode, f"{lane.mode} mode: staff release needed")
    expires_at = lane.now + lane.settings.decision_ttl_s
    if tx.release_expires_at is not None:  # a remote release keeps its own, earlier expiry
        expires_at = min(expires_at, tx.release_expires_at)
        tx.release_expires_at = None
    lane.emit(ev.OpenBarrier(tx.transaction_id, expires_at))
    lane.show(f"GO {d.ticket or ''} {d.yard_position or ''}".strip())
    lane.arm("pass", lane.settings.pass_s)
    return S.BARRIER_OPEN


# -- staff -----------------------------------------------------------------------------------

_UNSAFE_OPEN = "barrier cannot open: e-stop, controller lost or lane inputs unknown"
_OPEN = (S.BARRIER_OPEN, S.PASSED)


def _release_refused(lane: Lane, event: ev.StaffRelease) -> bool:
    if event.in_trouble and lane.state is not S.TROUBLE:
        lane.refuse("refused", f"no transaction in TROUBLE (lane is {lane.state.value})")
    elif not lane.interlock:
        lane.refuse("unsafe", _UNSAFE_OPEN)
    elif lane.state in _OPEN:
        lane.refuse("refused", f"the barrier is already open for a truck ({lane.state.value})")
    else:
        return False
    return True


def staff_release(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.StaffRelease)
    if _release_refused(lane, event):
        return lane.state
    if lane.tx is None:
        lane.start()
    tx = lane.tx
    assert tx is not None
    tx.decision = Decision(allow=True, by="staff", reason=f"{event.operator}: {event.reason}"[:500])
    tx.offline_pending = False
    tx.release_expires_at = event.expires_at
    return S.DECIDED


def trouble_read(lane: Lane, event: ev.Event) -> State:
    """A read that arrives in TROUBLE is kept (on record, and filling a position not yet read)
    but decides nothing: staff correcting the bad one then find the others already there."""
    assert isinstance(event, ev.Read) and lane.tx is not None
    read, tx, cfg = event.read, lane.tx, lane.settings
    tx.reads.append(read)
    if read.target == "plate":
        checked = lane.plates.check(read.text)
        if tx.plate_number is None and read.confidence >= cfg.plate_confidence and checked.ok:
            tx.plate, tx.plate_number = read, checked.value
    elif read.confidence >= cfg.container_confidence and read.position not in tx.containers:
        checked = check_container(read.text)
        if checked.value is not None:
            tx.containers[read.position] = ContainerRead(
                number=checked.value, position=read.position, confidence=read.confidence, valid=True,
                image_ref=read.image_ref)
    return S.TROUBLE


def staff_correct(lane: Lane, event: ev.Event) -> State:
    """A corrected box number replaces the read at its position; the lane then goes on as if
    the camera had read it (identified: verify with the platform; else keep reading)."""
    assert isinstance(event, ev.CorrectContainer) and lane.tx is not None
    tx, cfg = lane.tx, lane.settings
    checked = check_container(event.number)
    if checked.value is None:
        lane.counters["staff_correction_invalid"] += 1
        return lane.state
    tx.containers[event.position] = ContainerRead(number=checked.value, position=event.position, confidence=1.0,
                                                  valid=True, image_ref=None)
    tx.trouble_kind = tx.trouble_reason = None
    tx.decision = None
    tx.request = None  # answers about the old reads must not decide the corrected ones
    numbers = sorted({c.number for c in tx.containers.values()})
    if len(numbers) > 1 and not cfg.twin_boxes:
        return lane.trouble("disagree", f"front/rear container numbers disagree: {' vs '.join(numbers)}")
    if tx.plate_number and all(p in tx.containers for p in cfg.container_positions):
        return S.IDENTIFIED
    lane.show("READING")
    lane.arm("identify", cfg.identify_s)
    return S.ARRIVED


def staff_deny(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.StaffDeny) and lane.tx is not None
    tx = lane.tx
    tx.decision = Decision(allow=False, by="staff", reason=f"{event.operator}: {event.reason}"[:500])
    tx.trouble_kind, tx.trouble_reason = "deny", f"denied by staff: {event.reason}"[:500]
    lane.show(f"DENIED: {event.reason}")
    lane.arm("trouble", lane.settings.trouble_nag_s)
    return S.TROUBLE


def staff_close(lane: Lane, event: ev.Event) -> State:
    """Only with nothing under the barrier; the guard checks again before the coil."""
    if not lane.lane_clear_for_close():
        lane.counters["staff_close_refused"] += 1
        blocked = [name for name, on in (("safety loop occupied", lane.safety), ("photocell broken", lane.photocell_broken),
                                         ("exit loop occupied", lane.exit)) if on]
        return lane.refuse("unsafe", f"barrier cannot close: {', '.join(blocked)}")
    lane.emit(ev.CloseBarrier(lane.tx.transaction_id if lane.tx else None))
    return S.CLOSED


def open_refused(lane: Lane, event: ev.Event) -> State:
    """The open asked for was not carried out: a release in this turn is answered refused."""
    assert isinstance(event, ev.OpenRefused) and lane.tx is not None
    lane.tx.decision = None
    lane.emit(ev.Refuse("refused", f"lane did not open (state {S.TROUBLE.value})"))
    return lane.trouble("open_refused", f"barrier did not open: {event.reason}; staff release needed")


def reread(lane: Lane, event: ev.Event) -> State:
    tx = lane.tx
    assert tx is not None
    tx.plate = tx.plate_number = None
    tx.containers.clear()
    tx.trouble_kind = tx.trouble_reason = None
    tx.decision = None
    tx.request = None  # answers to the old reads must not decide the new ones
    lane.emit(ev.TriggerReread())
    lane.show("READING AGAIN")
    lane.arm("identify", lane.settings.identify_s)
    return S.ARRIVED


def trouble_tick(lane: Lane, event: ev.Event) -> State:
    if _backed_out(lane):
        return _end_unpassed(lane)
    if lane.due():
        assert lane.tx is not None
        lane.show(f"SEE STAFF: {lane.tx.trouble_reason}")
        lane.emit_lane_event("safety", "trouble_waiting", lane.tx.trouble_reason or "")
        lane.arm("trouble", lane.settings.trouble_nag_s)
    return S.TROUBLE


# -- passing and closing ---------------------------------------------------------------------

def open_exit(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.ExitLoop) and lane.tx is not None
    if not event.occupied:
        return S.BARRIER_OPEN
    lane.tx.passed = True
    lane.arm("pass", lane.settings.pass_s)
    return S.PASSED


def open_tick(lane: Lane, event: ev.Event) -> State:
    if not lane.due():
        return S.BARRIER_OPEN
    if lane.lane_empty():  # nobody came through: the truck left backwards
        lane.emit(ev.CloseBarrier(lane.tx.transaction_id if lane.tx else None))
        return S.CLOSED
    lane.show("PLEASE DRIVE ON")
    lane.arm("pass", lane.settings.pass_s)
    return S.BARRIER_OPEN


def passed_inputs(lane: Lane, event: ev.Event) -> State:
    """Exit loop / safety / photocell changed after passage: (re)start the hold-off."""
    lane.close_due = lane.now + lane.settings.holdoff_s if lane.lane_clear_for_close() else None
    if lane.close_due is not None:
        lane.emit(ev.StartTimer("holdoff", lane.close_due))
    return S.PASSED


def passed_tick(lane: Lane, event: ev.Event) -> State:
    if lane.close_due is not None and lane.now >= lane.close_due and lane.lane_clear_for_close():
        lane.emit(ev.CloseBarrier(lane.tx.transaction_id if lane.tx else None))
        return S.CLOSED
    if lane.due():
        lane.show("PLEASE DRIVE ON")
        lane.arm("pass", lane.settings.pass_s)
    return S.PASSED


def closed(lane: Lane, event: ev.Event) -> State:
    tx = lane.tx
    assert tx is not None
    lane.show("")
    if not tx.passed:
        return lane.finish("cancelled", "barrier opened but no passage seen on the exit loop")
    return lane.finish("released" if tx.decision and tx.decision.by == "staff" else "passed")


def idle_advance(lane: Lane, event: ev.Event) -> State:
    return idle_arrival(lane, event)


def set_mode(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.SetMode)
    if event.mode != lane.mode:
        lane.mode = event.mode
        lane.emit_lane_event("mode", event.mode)
        if lane.state is S.IDLE and event.mode == "closed":
            lane.show("LANE CLOSED")
    return lane.state


# -- commands a state has no rule for: why they are refused ---------------------------------

def release_refused(lane: Lane, event: ev.Event) -> State:
    assert isinstance(event, ev.StaffRelease)
    if not _release_refused(lane, event):
        lane.refuse("refused", f"lane did not open (state {lane.state.value})")
    return lane.state


def reread_refused(lane: Lane, event: ev.Event) -> State:
    return lane.refuse("refused", f"nothing to re-read in state {lane.state.value}")


def correct_refused(lane: Lane, event: ev.Event) -> State:
    return lane.refuse("refused", f"not possible while the lane is {lane.state.value}")


def deny_refused(lane: Lane, event: ev.Event) -> State:
    return lane.refuse("refused", f"no transaction in TROUBLE (lane is {lane.state.value})")


def close_refused(lane: Lane, event: ev.Event) -> State:
    return lane.refuse("refused", f"the barrier is not open for a truck (lane is {lane.state.value})")


# -- the table -------------------------------------------------------------------------------

ANY = None
ALL = tuple(S)


def _staff(state: State) -> Rule:
    """A staff release: to DECIDED, or refused (staying) while the barrier may not move."""
    return Rule(staff_release, (S.DECIDED, state), "staff release")


_REREAD = Rule(reread, (S.ARRIVED,), "re-read")
_CORRECT = Rule(staff_correct, (S.ARRIVED, S.IDENTIFIED, S.TROUBLE), labels=(
    (S.IDENTIFIED, "staff correct a box number"), (S.ARRIVED, "staff correct a box number"),
    (S.TROUBLE, "corrected numbers disagree")))
_CLOSE = Rule(staff_close, (S.BARRIER_OPEN, S.PASSED, S.CLOSED), "staff close, lane clear")
_OUT = "backed out"


def _stay(fn: Callable[[Lane, ev.Event], State], state: State) -> Rule:
    return Rule(fn, (state,))


TABLE: dict[tuple[State | None, type], Rule] = {
    (S.IDLE, ev.Approach): Rule(idle_arrival, (S.IDLE, S.ARRIVED), "approach loop"),
    (S.IDLE, ev.Advance): Rule(idle_advance, (S.IDLE, S.ARRIVED), "next truck waiting"),
    (S.IDLE, ev.StaffRelease): _staff(S.IDLE),

    (S.ARRIVED, ev.Read): Rule(arrived_read, (S.ARRIVED, S.IDENTIFIED, S.TROUBLE), labels=(
        (S.IDENTIFIED, "plate + containers read, valid, agreeing"),
        (S.TROUBLE, "check digit failure / front-rear disagree"))),
    (S.ARRIVED, ev.Weighed): _stay(keep_weight, S.ARRIVED),
    (S.ARRIVED, ev.Approach): _stay(backout_watch, S.ARRIVED),
    (S.ARRIVED, ev.Tick): Rule(arrived_tick, (S.ARRIVED, S.IDENTIFIED, S.TROUBLE, S.IDLE), labels=(
        (S.IDENTIFIED, "timeout, plate only (no container)"), (S.TROUBLE, "timeout, misread"), (S.IDLE, _OUT))),
    (S.ARRIVED, ev.Reread): _REREAD,
    (S.ARRIVED, ev.StaffRelease): _staff(S.ARRIVED),
    (S.ARRIVED, ev.DriverCard): Rule(keep_driver, (S.ARRIVED, S.TROUBLE), "driver card not usable"),
    (S.ARRIVED, ev.CorrectContainer): _CORRECT,

    (S.IDENTIFIED, ev.Advance): Rule(identified_advance, (S.IDENTIFIED, S.WEIGHED), "stable weight / no scale"),
    (S.IDENTIFIED, ev.Weighed): _stay(keep_weight, S.IDENTIFIED),
    (S.IDENTIFIED, ev.Approach): _stay(backout_watch, S.IDENTIFIED),
    (S.IDENTIFIED, ev.Tick): Rule(identified_tick, (S.IDENTIFIED, S.TROUBLE, S.IDLE), labels=(
        (S.TROUBLE, "timeout, no stable weight"), (S.IDLE, _OUT))),
    (S.IDENTIFIED, ev.Reread): _REREAD,
    (S.IDENTIFIED, ev.StaffRelease): _staff(S.IDENTIFIED),
    (S.IDENTIFIED, ev.DriverCard): Rule(keep_driver, (S.IDENTIFIED, S.TROUBLE), "driver card not usable"),

    (S.WEIGHED, ev.Advance): Rule(weighed_advance, (S.WEIGHED, S.VERIFYING), "send gate_verify"),
    (S.WEIGHED, ev.DriverCard): Rule(keep_driver, (S.WEIGHED, S.TROUBLE), "driver card not usable"),
    (S.WEIGHED, ev.Tick): Rule(weighed_tick, (S.WEIGHED, S.TROUBLE, S.IDLE), labels=(
        (S.TROUBLE, "timeout, no driver card"), (S.IDLE, _OUT))),
    (S.WEIGHED, ev.Approach): _stay(backout_watch, S.WEIGHED),

    (S.VERIFYING, ev.Verdict): Rule(verifying_verdict, (S.VERIFYING, S.DECIDED), "platform answer"),
    (S.VERIFYING, ev.PlatformTimeout): Rule(verifying_timeout, (S.VERIFYING,), "consult permits"),
    (S.VERIFYING, ev.PlatformError): Rule(verifying_error, (S.VERIFYING, S.TROUBLE), "platform error"),
    (S.VERIFYING, ev.PermitLookup): Rule(verifying_permit, (S.VERIFYING, S.DECIDED, S.TROUBLE), labels=(
        (S.DECIDED, "offline permit"), (S.TROUBLE, "timeout, no permit"))),
    (S.VERIFYING, ev.Approach): _stay(backout_watch, S.VERIFYING),
    (S.VERIFYING, ev.Tick): Rule(verifying_tick, (S.VERIFYING, S.TROUBLE, S.IDLE), labels=(
        (S.TROUBLE, "permit lookup timeout"), (S.IDLE, _OUT))),
    (S.VERIFYING, ev.StaffRelease): _staff(S.VERIFYING),

    (S.DECIDED, ev.Advance): Rule(decided, (S.BARRIER_OPEN, S.TROUBLE), labels=(
        (S.BARRIER_OPEN, "allow (open, expiring)"), (S.TROUBLE, "deny / manual or closed mode"))),

    (S.BARRIER_OPEN, ev.ExitLoop): Rule(open_exit, (S.BARRIER_OPEN, S.PASSED), "exit loop"),
    (S.BARRIER_OPEN, ev.Tick): Rule(open_tick, (S.BARRIER_OPEN, S.CLOSED), "nobody passed, lane empty"),
    (S.BARRIER_OPEN, ev.StaffClose): _CLOSE,
    (S.BARRIER_OPEN, ev.OpenRefused): Rule(open_refused, (S.TROUBLE,), "open refused / abandoned (e-stop, loss, expiry)"),

    (S.PASSED, ev.ExitLoop): _stay(passed_inputs, S.PASSED),
    (S.PASSED, ev.Safety): _stay(passed_inputs, S.PASSED),
    (S.PASSED, ev.Photocell): _stay(passed_inputs, S.PASSED),
    (S.PASSED, ev.StaffClose): _CLOSE,
    (S.PASSED, ev.Tick): Rule(passed_tick, (S.PASSED, S.CLOSED), "exit clear + hold-off, safety loop and beam clear"),

    (S.CLOSED, ev.Advance): Rule(closed, (S.IDLE,), "record transaction"),

    (S.TROUBLE, ev.Reread): _REREAD,
    (S.TROUBLE, ev.StaffRelease): _staff(S.TROUBLE),
    (S.TROUBLE, ev.CorrectContainer): _CORRECT,
    (S.TROUBLE, ev.Read): _stay(trouble_read, S.TROUBLE),
    (S.TROUBLE, ev.StaffDeny): Rule(staff_deny, (S.TROUBLE,), "staff deny"),
    (S.TROUBLE, ev.Verdict): Rule(verifying_verdict, (S.TROUBLE, S.DECIDED), "late platform answer"),
    (S.TROUBLE, ev.Approach): _stay(backout_watch, S.TROUBLE),
    (S.TROUBLE, ev.Weighed): _stay(keep_weight, S.TROUBLE),
    (S.TROUBLE, ev.Tick): Rule(trouble_tick, (S.TROUBLE, S.IDLE), "truck left"),

    (ANY, ev.SetMode): Rule(set_mode, ALL),
    (ANY, ev.StaffRelease): Rule(release_refused, ALL),
    (ANY, ev.Reread): Rule(reread_refused, ALL),
    (ANY, ev.CorrectContainer): Rule(correct_refused, ALL),
    (ANY, ev.StaffDeny): Rule(deny_refused, ALL),
    (ANY, ev.StaffClose): Rule(close_refused, ALL),
}
