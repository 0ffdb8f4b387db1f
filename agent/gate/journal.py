"""What the lane must not forget across a crash: the transaction in progress, and the offline
decisions still waiting for the platform's word.

- `inflight`: one row per transaction, rewritten after every state change and deleted only
  after the finished transaction has been recorded (committed to the outbox). A row found at
  start means the agent died mid-transaction (or the outbox refused the record):
  `aborted_record` turns it into a GateTransaction with outcome "aborted".
- `reconcile`: one row per offline decision, deleted once a gate_reconcile event has been
  recorded for it.

Reads run on the loop; writes are awaited commits on the gate store's writer thread
(agent.storage.Books), so the lane never waits on an fsync.

Never: delete a row before the record that replaces it has been committed.
"""

from __future__ import annotations

import json
from datetime import datetime

from agent.contract.devices import CameraRead, Weight
from agent.contract.gate import ContainerRead, Decision, GateTransaction, VerifyRequest
from agent.storage import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS inflight (transaction_id TEXT PRIMARY KEY, lane TEXT NOT NULL, draft TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reconcile (
    transaction_id TEXT PRIMARY KEY, lane TEXT NOT NULL, request TEXT NOT NULL, decision TEXT NOT NULL);
"""


class Journal:
    def __init__(self, db: Database):
        self.db = db

    # -- the transaction in progress -------------------------------------------------------
    async def save(self, lane: str, transaction_id: str, draft: dict) -> None:
        row = (transaction_id, lane, json.dumps(draft, ensure_ascii=False))
        await self.db.write(lambda c: c.execute("INSERT OR REPLACE INTO inflight VALUES (?, ?, ?)", row))

    async def clear(self, lane: str, transaction_id: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM inflight WHERE lane = ? AND transaction_id = ?",
                                                (lane, transaction_id)))

    def drafts(self, lane: str) -> list[dict]:
        """Every unfinished (or unrecorded) transaction of the lane, oldest id first."""
        rows = self.db.query("SELECT draft FROM inflight WHERE lane = ? ORDER BY transaction_id", (lane,))
        return [json.loads(r[0]) for r in rows]

    # -- offline decisions awaiting the platform -------------------------------------------
    async def add_reconcile(self, lane: str, request: VerifyRequest, decision: Decision) -> None:
        row = (request.transaction_id, lane, request.model_dump_json(), decision.model_dump_json())
        await self.db.write(lambda c: c.execute("INSERT OR REPLACE INTO reconcile VALUES (?, ?, ?, ?)", row))

    def get_reconcile(self, transaction_id: str) -> tuple[VerifyRequest, Decision] | None:
        row = self.db.one("SELECT request, decision FROM reconcile WHERE transaction_id = ?", (transaction_id,))
        if row is None:
            return None
        return VerifyRequest.model_validate_json(row[0]), Decision.model_validate_json(row[1])

    def pending_reconcile(self, lane: str) -> list[tuple[VerifyRequest, Decision]]:
        rows = self.db.query("SELECT request, decision FROM reconcile WHERE lane = ? ORDER BY transaction_id", (lane,))
        return [(VerifyRequest.model_validate_json(r), Decision.model_validate_json(d)) for r, d in rows]

    async def done_reconcile(self, transaction_id: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM reconcile WHERE transaction_id = ?", (transaction_id,)))


def aborted_record(lane: str, draft: dict, ended_at: datetime) -> GateTransaction:
    """The journalled draft of a transaction the agent did not live to finish."""
    state = draft.get("state", "?")
    reason = draft.get("trouble_reason") or ""
    return GateTransaction(
        transaction_id=draft["transaction_id"], lane=lane, type=draft.get("type"), outcome="aborted",
        plate=CameraRead.model_validate(draft["plate"]) if draft.get("plate") else None,
        containers=[ContainerRead.model_validate(c) for c in draft.get("containers", [])],
        reads=[CameraRead.model_validate(r) for r in draft.get("reads", [])],
        weight=Weight.model_validate(draft["weight"]) if draft.get("weight") else None,
        decision=Decision.model_validate(draft["decision"]) if draft.get("decision") else None,
        offline=bool(draft.get("offline")),
        trouble_reason=f"agent restarted during {state}" + (f" ({reason})" if reason else ""),
        timings_ms=draft.get("timings_ms", {}),
        started_at=datetime.fromisoformat(draft["started_at"]), ended_at=ended_at,
    )
