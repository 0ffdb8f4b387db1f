"""Forklift task messages: tasks pushed to PDAs and the driver's progress on them."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from agent.contract.envelope import Strict

TaskKind = Literal["TO_INSPECTION", "RETURN", "RELOCATE", "DELIVER"]
TaskState = Literal[
    "ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED", "COMPLETED",
    "EXCEPTION", "CANCELLED", "REASSIGNED",
]
ExceptionReason = Literal["piece_missing", "damaged", "wrong_location", "count_mismatch", "other"]


class Task(Strict):
    """cmd/task_assign: a move for a forklift driver."""

    task_id: str = Field(min_length=1, max_length=64)
    kind: TaskKind
    priority: int = Field(default=5, ge=1, le=9, description="1 = most urgent")
    due_by: AwareDatetime
    awb: str | None = Field(default=None, description="air waybill, 11 digits, e.g. 17612345675")
    pieces: int = Field(ge=1, le=9999)
    piece_labels: list[str] = Field(default_factory=list, description="SSCCs or piece labels expected, if known")
    source_location: str
    destination: str
    destination_kind: Literal["inspection_bay", "storage", "delivery_door"] = "inspection_bay"
    customs_ref: str | None = None
    notes: str = ""
    driver: str | None = Field(default=None, description="badge of the driver it is for, if any")


class TaskCancel(Strict):
    """cmd/task_cancel: the platform withdraws a task (cancelled, or reassigned to another PDA)."""

    task_id: str
    reason: Literal["cancelled", "reassigned"] = "cancelled"
    note: str = ""


class ScanEvidence(Strict):
    data: str
    at: AwareDatetime
    accepted: bool
    reason: str = ""


class TaskUpdate(Strict):
    """evt/task_update: one transition of one task, with the scans that caused it."""

    task_id: str
    state: TaskState
    previous: TaskState | None
    step: int = Field(default=0, ge=0, description="this task's transition number on this PDA, 1, 2, ...; "
                      "(task_id, step) is unique, so the platform drops an update replayed after a crash")
    driver: str | None = None
    scans: list[ScanEvidence] = Field(default_factory=list)
    picked: int = Field(default=0, ge=0)
    exception: ExceptionReason | None = None
    note: str = ""


class DriverLogin(Strict):
    """req/driver_login: badge + PIN checked by the platform."""

    badge: str
    pin: str = Field(min_length=4, max_length=12)


class DriverLoginAnswer(Strict):
    badge: str
    ok: bool
    name: str = ""
    reason: str = ""
