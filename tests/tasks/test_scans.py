"""Every scan that does not fit is refused with its reason and never advances the task."""

from __future__ import annotations

import asyncio

import pytest

from agent.contract.tasks import Task
from agent.identifiers import LocationChecker
from agent.tasks.messages import MESSAGES
from agent.tasks.scans import ScanRules, read_piece
from agent.tasks.table import Ev

from .fakes import AWB, SSCCS, Rig, make_task

RULES = ScanRules()


@pytest.fixture
def task(rig: Rig) -> Task:
    return make_task(rig.clock)


@pytest.mark.parametrize("label, key", [
    ("17612345675-001", "awb:17612345675-001"),
    ("176-12345675-12", "awb:17612345675-012"),
    ("17612345675/3", "awb:17612345675-003"),
    ("17612345675", "awb:17612345675"),
    ("376123450000000016", f"sscc:{SSCCS[0]}"),
    ("(00)376123450000000016", f"sscc:{SSCCS[0]}"),
    ("]C100376123450000000016", f"sscc:{SSCCS[0]}"),
    ("00376123450000000016", f"sscc:{SSCCS[0]}"),
    ("crate 7", "label:CRATE 7"),
])
def test_piece_label_forms(label, key):
    assert read_piece(label).key == key


@pytest.mark.parametrize("label, code", [
    ("17612345670-001", "bad_check_digit"),  # AWB serial mod 7 is 5
    ("17612345670", "bad_check_digit"),
    ("376123450000000017", "bad_check_digit"),  # GS1 mod 10 is 6
    ("]C1376123450000000016", "unreadable"),  # GS1-128 without AI 00
    ("", "unreadable"),
    ("\x07\x07", "unreadable"),
])
def test_misread_labels_are_never_matched(label, code):
    read = read_piece(label)
    assert (read.key, read.code) == (None, code)


CASES = [
    # state, picked, scan, code
    ("ASSIGNED", (), "A-03-12-2", "accept_first"),
    ("ACCEPTED", (), "B-01-01-1", "wrong_location"),
    ("ACCEPTED", (), "BAY-07", "scan_source_first"),
    ("ACCEPTED", (), f"{AWB}-001", "scan_source_first"),
    ("ACCEPTED", (), f"{AWB[:-1]}0-001", "bad_check_digit"),
    ("ACCEPTED", (), "hello", "not_a_location"),
    ("AT_SOURCE", (), "A-03-12-2", "already_at_source"),
    ("AT_SOURCE", (), "C-01-01-1", "wrong_location"),
    ("AT_SOURCE", (), "BAY-07", "pick_all_first"),
    ("AT_SOURCE", (), "17612345686-001", "wrong_piece"),  # valid AWB, another shipment
    ("AT_SOURCE", (), f"{AWB}-004", "wrong_piece"),  # piece 4 of 3
    ("AT_SOURCE", (), f"{AWB}-000", "wrong_piece"),
    ("AT_SOURCE", (), SSCCS[0], "wrong_piece"),  # no SSCC expected on this task
    ("AT_SOURCE", (), "crate 7", "wrong_piece"),
    ("AT_SOURCE", (f"awb:{AWB}-001",), f"{AWB}-001", "duplicate_piece"),
    ("AT_SOURCE", (f"awb:{AWB}-001",), f"{AWB}-1", "duplicate_piece"),  # same piece, other spelling
    ("AT_SOURCE", (), f"{AWB[:-1]}0-001", "bad_check_digit"),
    ("PICKED", (f"awb:{AWB}-001",), "BAY-08", "wrong_destination"),
    ("PICKED", (f"awb:{AWB}-001",), "A-03-12-2", "wrong_destination"),
    ("PICKED", (f"awb:{AWB}-001",), f"{AWB}-001", "scan_destination"),
    ("PICKED", (f"awb:{AWB}#1",), AWB, "scan_destination"),
    ("PICKED", (), "376123450000000017", "bad_check_digit"),
    ("DELIVERED", (), "BAY-07", "confirm_complete"),
    ("EXCEPTION", (), "A-03-12-2", "wrong_state"),
    ("COMPLETED", (), "BAY-07", "wrong_state"),
]


@pytest.mark.parametrize("state, picked, scan, code", CASES)
def test_refusals_by_state(task, state, picked, scan, code):
    verdict = RULES.interpret(task, state, picked, scan)
    assert (verdict.event, verdict.code) == (None, code)
    assert code in MESSAGES


def test_every_refusal_code_has_both_languages():
    for code, (zh, en) in MESSAGES.items():
        assert zh and en and zh != en, code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), code


def test_piece_labels_given_means_the_bare_awb_is_not_enough(task):
    labelled = task.model_copy(update={"piece_labels": [f"{AWB}-001", f"{AWB}-002", f"{AWB}-003"]})
    assert RULES.interpret(labelled, "AT_SOURCE", (), AWB).code == "piece_label_needed"
    assert RULES.interpret(labelled, "AT_SOURCE", (), f"{AWB}-2").event is Ev.PIECE_OK


def test_bare_awb_refused_when_the_site_forbids_it_and_over_the_count(task):
    strict = ScanRules(allow_bare_awb=False)
    assert strict.interpret(task, "AT_SOURCE", (), AWB).code == "piece_label_needed"
    full = tuple(f"awb:{AWB}#{i}" for i in (1, 2, 3))
    assert RULES.interpret(task, "AT_SOURCE", full, AWB).code == "count_exceeded"


def test_storage_destination_compares_normalised_locations(task):
    to_storage = task.model_copy(update={"destination": "C-04-11-1", "destination_kind": "storage"})
    assert RULES.interpret(to_storage, "PICKED", (), "c 4 11 1").event is Ev.DESTINATION_OK
    assert RULES.interpret(task, "PICKED", (), " bay_07 ").event is Ev.DESTINATION_OK


def test_a_site_location_pattern(task):
    site = ScanRules(LocationChecker(r"^(?P<hall>H\d)-(?P<slot>\d{3})$"))
    own = task.model_copy(update={"source_location": "H2-014"})
    assert site.interpret(own, "ACCEPTED", (), "h2-014").event is Ev.SOURCE_OK
    assert site.interpret(own, "ACCEPTED", (), "H3-001").code == "wrong_location"


def test_refused_scans_through_the_board_never_advance(rig: Rig):
    """Drive the board into each state and fire that state's refusals at it."""
    async def go():
        await rig.login()
        await rig.assign()
        seen = []
        for state, prepare in [("ACCEPTED", lambda: rig.board.accept("T-1")),
                               ("AT_SOURCE", lambda: rig.board.scan("A-03-12-2")),
                               ("PICKED", lambda: _pick_all(rig)),
                               ("DELIVERED", lambda: rig.board.scan("BAY-07"))]:
            await prepare()
            before = rig.board.active
            for case_state, _picked, scan, code in CASES:
                if case_state != state or code == "duplicate_piece":
                    continue
                result = await rig.board.scan(scan)
                seen.append((state, scan, result.code, result.ok, result.state))
            assert rig.board.active.state == state and rig.board.active.picked == before.picked
        return seen

    seen = run(go())
    assert all(not ok and got_state == state for state, _s, _c, ok, got_state in seen)
    expected = {(s, scan): c for s, p, scan, c in CASES if s in ("ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED")
                and c != "duplicate_piece" and not (s == "PICKED" and not p)}
    got = {(s, scan): c for s, scan, c, _ok, _st in seen if (s, scan) in expected}
    assert got == expected
    assert rig.recorder.states() == ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED"]


async def _pick_all(rig: Rig):
    for n in (1, 2, 3):
        await rig.board.scan(f"{AWB}-00{n}")


def run(coro):
    return asyncio.run(coro)
