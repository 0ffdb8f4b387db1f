"""The catalog: every message on the wire, once. The AsyncAPI document is generated from it.

Each entry names the topic kind and name, the wrapper (Envelope for node events, requests and
state; Command for platform commands; Response for answers) and the body model, with an
example that must validate against the generated schema (tests check it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from agent.contract import devices, gate, node, personnel, tasks
from agent.contract.envelope import Command, Envelope, ErrorBody, Response
from agent.contract.topics import Kind

_T0 = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)


@dataclass(frozen=True)
class MessageSpec:
    type: str
    kind: Kind
    body: type[BaseModel]
    summary: str
    example: dict[str, Any]
    answer: type[BaseModel] | None = None  # body of the Response (cmd) or rsp (req)

    @property
    def wrapper(self) -> type[BaseModel]:
        if self.kind is Kind.CMD:
            return Command[self.body]
        if self.kind in (Kind.RES, Kind.RSP):
            return Response[self.body]
        return Envelope[self.body]

    @property
    def topic_name(self) -> str | None:
        return None if self.kind is Kind.STATE else self.type


_KEY = "5f" * 32  # a person key: HMAC-SHA256 under the site key, hex
_health = {"connected": True, "outbox": {"transactional": {"rows": 0, "bytes": 0}}, "errors": {}, "degraded": []}
_plate = {"device": "cam-plate", "target": "plate", "text": "沪A1234挂", "confidence": 0.97, "position": "front", "image_ref": "cam-plate/000123.jpg"}
_task = {
    "task_id": "T-20261127-0042", "kind": "TO_INSPECTION", "priority": 2,
    "due_by": (_T0 + timedelta(hours=1)).isoformat(), "awb": "17612345675", "pieces": 3,
    "piece_labels": [], "source_location": "A-03-12-2", "destination": "BAY-07",
    "destination_kind": "inspection_bay", "customs_ref": "CI-5531", "notes": "",
}

MESSAGES: list[MessageSpec] = [
    MessageSpec("state", Kind.STATE, node.NodeState, "Retained birth, clean shutdown and last-will state of a node.",
                {"status": "online", "role": "gate", "version": "0.1.0", "devices": ["scanner-1", "io-1"], "outbox_depth": 0, "health": _health}),
    MessageSpec("heartbeat", Kind.EVT, node.Heartbeat, "Periodic health of a node.",
                {"uptime_s": 3600.0, "health": _health,
                 "audit": {"seq": 4211, "hash": "9f2c51d0a4b36e1f8e7d6c5b4a392817f6e5d4c3b2a1908f7e6d5c4b3a291807"}}),
    MessageSpec("device_status", Kind.EVT, node.DeviceStatus, "A device went online, offline or into error.",
                {"device": "scale-1", "kind": "toledo", "status": "online", "detail": "", "counters": {"frames": 1200, "garbled": 2}}),
    MessageSpec("scan", Kind.EVT, devices.Scan, "A barcode scan from a serial or wedge scanner.",
                {"device": "scanner-1", "data": "1234", "symbology": "]C0", "barcode_type": "code128"}),
    MessageSpec("weight", Kind.EVT, devices.Weight, "A weighbridge reading.",
                {"device": "scale-1", "value": 32480.0, "unit": "lb", "mode": "gross", "stable": True}),
    MessageSpec("camera_read", Kind.EVT, devices.CameraRead, "A plate or container-number OCR read.", _plate),
    MessageSpec("gate_transaction", Kind.EVT, gate.GateTransaction, "One truck through one lane, complete.",
                {"transaction_id": "01JDGATE0000000000000000AB", "lane": "lane-1", "type": "DI", "outcome": "passed",
                 "plate": _plate,
                 "containers": [{"number": "CSQU3054383", "position": "front", "confidence": 0.95, "valid": True}],
                 "reads": [_plate], "weight": {"device": "scale-1", "value": 28450.0, "unit": "kg", "mode": "gross", "stable": True},
                 "decision": {"allow": True, "by": "platform", "reason": "", "ticket": "Block C row 4", "yard_position": "C-04-11"},
                 "offline": False, "timings_ms": {"identify": 2100.0, "verify": 85.0},
                 "started_at": _T0.isoformat(), "ended_at": (_T0 + timedelta(seconds=48)).isoformat()}),
    MessageSpec("lane_event", Kind.EVT, gate.LaneEvent, "Barrier, loop, light, display or mode change at a lane.",
                {"lane": "lane-1", "what": "barrier", "value": "opening", "transaction_id": "01JDGATE0000000000000000AB"}),
    MessageSpec("gate_reconcile", Kind.EVT, gate.GateReconcile, "The platform's later answer to a transaction the lane decided offline.",
                {"transaction_id": "01JDGATE0000000000000000AB", "lane": "lane-1",
                 "offline": {"allow": True, "by": "offline", "permit_id": "P-1", "yard_position": "C-04-11"},
                 "platform": {"transaction_id": "01JDGATE0000000000000000AB", "allow": True, "type": "DI", "yard_position": "C-04-11"},
                 "agree": True}),
    MessageSpec("staff_action", Kind.EVT, gate.StaffAction, "A gate clerk's action at the booth console, done or refused.",
                {"lane": "lane-1", "operator": "G0042", "action": "correct_container", "outcome": "done",
                 "reason": "front camera misread 8 as 3", "transaction_id": "01JDGATE0000000000000000AB",
                 "detail": {"position": "front", "number": "CSQU3054383"}, "audit_seq": 4211}),
    MessageSpec("task_update", Kind.EVT, tasks.TaskUpdate, "One transition of one forklift task, with its scans.",
                {"task_id": "T-20261127-0042", "state": "AT_SOURCE", "previous": "ACCEPTED", "driver": "D1024",
                 "scans": [{"data": "A-03-12-2", "at": _T0.isoformat(), "accepted": True}], "picked": 0}),
    MessageSpec("gate_verify", Kind.REQ, gate.VerifyRequest, "The lane asks the platform whether a truck may pass.",
                {"transaction_id": "01JDGATE0000000000000000AB", "lane": "lane-1", "plate": "沪A1234挂",
                 "containers": ["CSQU3054383"], "weight_kg": 28450.0, "type": "DI"}, answer=gate.VerifyAnswer),
    MessageSpec("driver_login", Kind.REQ, tasks.DriverLogin, "A PDA asks the platform to check a driver's badge and PIN.",
                {"badge": "D1024", "pin": "4711"}, answer=tasks.DriverLoginAnswer),
    MessageSpec("permits_sync", Kind.CMD, gate.PermitsSync, "Replace the lane's offline permits with this versioned set.",
                {"version": 7, "permits": [{"permit_id": "P-1", "plate": "沪A1234挂", "containers": ["CSQU3054383"], "type": "DI",
                                             "valid_from": _T0.isoformat(), "valid_until": (_T0 + timedelta(hours=8)).isoformat(), "yard_position": "C-04-11"}]}),
    MessageSpec("barrier_open", Kind.CMD, gate.RemoteOpen, "Staff release: open the barrier (expiring).",
                {"lane": "lane-1", "reason": "driver papers checked at the window", "operator": "ops-7"}),
    MessageSpec("lane_mode", Kind.CMD, gate.LaneMode, "Set a lane to auto, manual or closed.", {"lane": "lane-1", "mode": "manual"}),
    MessageSpec("reread", Kind.CMD, gate.Reread, "Read plate and containers again.", {"lane": "lane-1"}),
    MessageSpec("task_assign", Kind.CMD, tasks.Task, "A forklift task for this PDA.", _task),
    MessageSpec("task_cancel", Kind.CMD, tasks.TaskCancel, "Withdraw a task (cancelled or reassigned).",
                {"task_id": "T-20261127-0042", "reason": "reassigned", "note": "moved to PDA-3"}),
    MessageSpec("person_passage", Kind.EVT, personnel.PersonPassage,
                "One presentation at a restricted-area turnstile, complete (hashed key and masked number only).",
                {"pass_id": "01JDPASS0000000000000000AB", "lane": "apron-1", "area": "apron", "credential": "id_card",
                 "person_key": _KEY, "masked": "110105********002X", "outcome": "passed",
                 "decision": {"allow": True, "by": "platform"}, "offline": False, "passages": 1, "tailgaters": 0,
                 "timings_ms": {"verifying": 42.0}, "started_at": _T0.isoformat(),
                 "ended_at": (_T0 + timedelta(seconds=4)).isoformat()}),
    MessageSpec("person_alarm", Kind.EVT, personnel.PersonAlarm, "Tailgating, a forced passage or the fire alarm at a turnstile.",
                {"lane": "apron-1", "area": "apron", "what": "tailgating", "pass_id": "01JDPASS0000000000000000AB",
                 "count": 1, "detail": "1 more on one unlock"}),
    MessageSpec("person_reconcile", Kind.EVT, personnel.PersonReconcile,
                "The platform's later answer to a pass the turnstile decided from its offline allow-list.",
                {"pass_id": "01JDPASS0000000000000000AB", "lane": "apron-1",
                 "offline": {"allow": True, "by": "offline", "reason": "offline allow-list", "list_version": 3},
                 "platform": {"pass_id": "01JDPASS0000000000000000AB", "allow": True}, "agree": True}),
    MessageSpec("person_verify", Kind.REQ, personnel.PersonVerifyRequest,
                "The turnstile asks the platform whether a person may enter its area now.",
                {"pass_id": "01JDPASS0000000000000000AB", "lane": "apron-1", "area": "apron", "credential": "id_card",
                 "person_key": _KEY, "masked": "110105********002X", "card_valid_until": "long_term"},
                answer=personnel.PersonVerifyAnswer),
    MessageSpec("allow_list_sync", Kind.CMD, personnel.AllowListSync,
                "Replace the turnstile's offline allow-list (hashed keys, areas, windows, blacklist) with this versioned set.",
                {"version": 3, "entries": [{"person_key": _KEY, "areas": ["apron"], "valid_from": _T0.isoformat(),
                                            "valid_until": (_T0 + timedelta(days=30)).isoformat()}], "blocked": []}),
]

BY_TYPE: dict[str, MessageSpec] = {m.type: m for m in MESSAGES}
COMMANDS: dict[str, MessageSpec] = {m.type: m for m in MESSAGES if m.kind is Kind.CMD}
REQUESTS: dict[str, MessageSpec] = {m.type: m for m in MESSAGES if m.kind is Kind.REQ}


def example_message(spec: MessageSpec) -> dict[str, Any]:
    """A whole example payload (wrapper + body) for the AsyncAPI document."""
    if spec.kind is Kind.CMD:
        return {"id": "01JDCMD00000000000000000AB", "node": "lane-1", "ts": _T0.isoformat(), "type": spec.type, "v": 1,
                "body": spec.example, "reply_to": f"portedge/v1/yt/lane-1/res/{spec.type}",
                "correlation_id": "c-42", "expires_at": (_T0 + timedelta(seconds=30)).isoformat()}
    return {"id": "01JDEVT00000000000000000AB", "node": "lane-1", "seq": 42, "ts": _T0.isoformat(), "type": spec.type,
            "v": 1, "body": spec.example, "correlation_id": "c-42" if spec.kind is Kind.REQ else None,
            "reply_to": f"portedge/v1/yt/lane-1/rsp/{spec.type}" if spec.kind is Kind.REQ else None}


def example_answer(spec: MessageSpec) -> dict[str, Any] | None:
    if spec.answer is None:
        return None
    body = {
        "gate_verify": {"transaction_id": "01JDGATE0000000000000000AB", "allow": True, "type": "DI", "ticket": "Block C row 4", "yard_position": "C-04-11"},
        "driver_login": {"badge": "D1024", "ok": True, "name": "王师傅"},
        "person_verify": {"pass_id": "01JDPASS0000000000000000AB", "allow": True},
    }[spec.type]
    return {"id": "01JDRSP00000000000000000AB", "node": "platform", "seq": 0, "ts": _T0.isoformat(), "type": spec.type,
            "v": 1, "correlation_id": "c-42", "ok": True, "body": body, "error": None}


__all__ = ["MESSAGES", "BY_TYPE", "COMMANDS", "REQUESTS", "MessageSpec", "ErrorBody", "example_message", "example_answer"]
