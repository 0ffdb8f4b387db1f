"""What a scan means for one task: a table event, or a refusal with a reason code. Pure.

Labels a driver scans:
- a location label (rack "A-03-12-2", checked by the site's `LocationChecker`), an inspection
  bay ("BAY-07") or a delivery door ("DOOR-3");
- a piece label. Three forms:
  * GS1 SSCC (AI 00, bare 18 digits, GS1-128 with AIM prefix, or "(00)..." as printed):
    matched against the task's `piece_labels`;
  * an air waybill piece label: the 11-digit AWB, a dash (or slash) and the piece number,
    "17612345675-001" (piece numbers 1..pieces; a printed "176-12345675-001" also reads);
  * the bare AWB "17612345675", as on plain IATA labels where every piece carries the same
    code: counted as one more piece (no duplicate check is possible), only when the task
    lists no `piece_labels` and the site allows it.
  Any other text is compared with `piece_labels` literally (upper case, blanks trimmed).
AWB check digits (serial mod 7) and SSCC check digits (GS1 mod 10) are checked before any
matching: a misread must say "scan again", not "wrong piece".

This module never changes a task and never guesses a correction of a misread code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.contract.tasks import Task
from agent.identifiers import LocationChecker, check_awb, check_sscc
from agent.tasks.table import Ev, State

_AWB_PIECE = re.compile(r"^(\d{3}-?\d{8})(?:[-/](\d{1,5}))?$")
_GS1_START = ("]C1", "]d2", "]Q3", "]e0", "]J1", "\x1d", "(00)")


@dataclass(frozen=True, slots=True)
class Verdict:
    """`event` set: the scan fits and moves the task; otherwise `code` says why not."""

    event: Ev | None
    code: str
    key: str | None = None  # piece key for ADD_PIECE
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PieceRead:
    key: str | None  # "sscc:<18>", "awb:<11>-<nnn>", "awb:<11>" (bare), "label:<TEXT>"
    code: str = ""   # refusal code when key is None
    detail: str = ""


def place_code(text: str) -> str:
    """Loose normal form of a bay or door label: "bay 07" -> "BAY-07"."""
    return re.sub(r"[\s_/.]+", "-", text.strip().upper()).strip("-")


def read_piece(text: str) -> PieceRead:
    """Classify a scanned piece label (no task needed)."""
    raw = text.strip()
    squeezed = raw.replace(" ", "")
    if raw.startswith(_GS1_START) or (len(squeezed) in (18, 20) and squeezed.isdigit()):
        data = raw.replace("(", "").replace(")", "") if raw.startswith("(") else raw
        sscc = check_sscc(data)
        if sscc.ok:
            return PieceRead(f"sscc:{sscc.value}")
        code = "bad_check_digit" if "check digit" in (sscc.reason or "") else "unreadable"
        return PieceRead(None, code, sscc.reason or "")
    match = _AWB_PIECE.match(squeezed)
    if match:
        awb = check_awb(match.group(1))
        if not awb.ok:
            code = "bad_check_digit" if "check digit" in (awb.reason or "") else "unreadable"
            return PieceRead(None, code, awb.reason or "")
        if match.group(2) is None:
            return PieceRead(f"awb:{awb.value}")
        return PieceRead(f"awb:{awb.value}-{int(match.group(2)):03d}")
    if not raw or not raw.isprintable():
        return PieceRead(None, "unreadable", "empty or unprintable scan")
    return PieceRead(f"label:{raw.upper()}")


def expected_keys(task: Task) -> frozenset[str]:
    """Piece keys of the task's `piece_labels` (unreadable labels never match a scan)."""
    keys = set()
    for label in task.piece_labels:
        read = read_piece(label)
        if read.key:
            keys.add(read.key)
    return frozenset(keys)


class ScanRules:
    """Interprets scans for tasks of one site (its location pattern and bare-AWB policy)."""

    def __init__(self, locations: LocationChecker | None = None, allow_bare_awb: bool = True):
        self.locations = locations or LocationChecker()
        self.allow_bare_awb = allow_bare_awb

    # -- places ------------------------------------------------------------------------------
    def _same_place(self, scanned: str, wanted: str, storage: bool) -> bool:
        if storage:
            a, b = self.locations.check(scanned), self.locations.check(wanted)
            if a.ok and b.ok:
                return a.value == b.value
        return place_code(scanned) == place_code(wanted)

    def is_source(self, task: Task, text: str) -> bool:
        return self._same_place(text, task.source_location, storage=True)

    def is_destination(self, task: Task, text: str) -> bool:
        return self._same_place(text, task.destination, storage=task.destination_kind == "storage")

    def is_place(self, text: str) -> bool:
        return self.locations.check(text).ok

    # -- pieces ------------------------------------------------------------------------------
    def match_piece(self, task: Task, picked: tuple[str, ...], text: str) -> Verdict:
        read = read_piece(text)
        if read.key is None:
            return Verdict(None, read.code, detail=read.detail)
        key = read.key
        if task.piece_labels:
            wanted = expected_keys(task)
            if key not in wanted:
                bare = task.awb is not None and key == f"awb:{task.awb}"
                return Verdict(None, "piece_label_needed" if bare else "wrong_piece", detail=text.strip())
        elif task.awb is None or not key.startswith(f"awb:{task.awb}"):
            return Verdict(None, "wrong_piece", detail=text.strip())
        elif key == f"awb:{task.awb}":
            if not self.allow_bare_awb:
                return Verdict(None, "piece_label_needed")
            if len(picked) >= task.pieces:
                return Verdict(None, "count_exceeded")
            key = f"{key}#{len(picked) + 1}"  # anonymous piece: counted, not identified
        else:
            number = int(key.rsplit("-", 1)[1])
            if not 1 <= number <= task.pieces:
                return Verdict(None, "wrong_piece", detail=f"piece {number} of {task.pieces}")
        if key in picked:
            return Verdict(None, "duplicate_piece", detail=text.strip())
        if len(picked) >= task.pieces:
            return Verdict(None, "count_exceeded")
        last = len(picked) + 1 == task.pieces
        return Verdict(Ev.LAST_PIECE_OK if last else Ev.PIECE_OK, "ok_picked" if last else "ok_piece", key)

    # -- by state ----------------------------------------------------------------------------
    def interpret(self, task: Task, state: State, picked: tuple[str, ...], text: str) -> Verdict:
        """What `text` means for `task` in `state`."""
        if state == State.ASSIGNED:
            return Verdict(None, "accept_first")
        if state == State.ACCEPTED:
            if self.is_source(task, text):
                return Verdict(Ev.SOURCE_OK, "ok_at_source")
            if self.is_place(text):
                return Verdict(None, "wrong_location", detail=text.strip())
            if self.is_destination(task, text):
                return Verdict(None, "scan_source_first")
            piece = self.match_piece(task, picked, text)
            if piece.event is not None:
                return Verdict(None, "scan_source_first")
            if piece.code == "bad_check_digit":
                return piece
            return Verdict(None, "not_a_location", detail=text.strip())
        if state == State.AT_SOURCE:
            if self.is_source(task, text):
                return Verdict(None, "already_at_source")
            if self.is_destination(task, text):
                return Verdict(None, "pick_all_first")
            if self.is_place(text):
                return Verdict(None, "wrong_location", detail=text.strip())
            return self.match_piece(task, picked, text)
        if state == State.PICKED:
            if self.is_destination(task, text):
                return Verdict(Ev.DESTINATION_OK, "ok_delivered")
            read = read_piece(text)
            if read.code == "bad_check_digit":
                return Verdict(None, read.code, detail=read.detail)
            ours = read.key is not None and (
                read.key in picked or read.key in expected_keys(task)
                or (task.awb is not None and read.key.startswith(f"awb:{task.awb}")))
            if ours:  # a piece of this shipment: the driver is a step behind, not wrong
                return Verdict(None, "scan_destination")
            return Verdict(None, "wrong_destination", detail=text.strip())
        if state == State.DELIVERED:
            return Verdict(None, "confirm_complete")
        return Verdict(None, "wrong_state")
