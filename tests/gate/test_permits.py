"""The offline permit store: versioned sets, validity windows, evidence needed to match."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from agent.contract.gate import Permit, PermitsSync
from agent.gate.permits import PermitStore
from agent.gate.store import open_gate_db

from .fakes import BOX, OTHER_BOX, PLATE

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def permit(pid="P-1", plate=PLATE, containers=(BOX,), start=0, hours=8) -> Permit:
    return Permit(permit_id=pid, plate=plate, containers=list(containers), type="DI",
                  valid_from=T0 + timedelta(hours=start), valid_until=T0 + timedelta(hours=start + hours))


def take(store: PermitStore, sync: PermitsSync) -> bool:
    """replace() commits on the gate store's writer thread: await it, as the station does."""
    return asyncio.run(store.replace(sync))


@pytest.fixture
def store(tmp_path):
    conn = open_gate_db(tmp_path / "gate.db")
    yield PermitStore(conn)
    conn.close()


def test_newer_set_replaces_older_is_ignored(store):
    assert take(store, PermitsSync(version=3, permits=[permit("P-3")]))
    assert not take(store, PermitsSync(version=2, permits=[permit("P-2")]))
    assert not take(store, PermitsSync(version=3, permits=[]))
    assert store.version == 3 and store.count() == 1
    assert store.find(PLATE, [BOX], T0).permit_id == "P-3"


def test_set_survives_reopen(tmp_path):
    conn = open_gate_db(tmp_path / "gate.db")
    take(PermitStore(conn), PermitsSync(version=1, permits=[permit()]))
    conn.close()
    conn = open_gate_db(tmp_path / "gate.db")
    try:
        assert PermitStore(conn).find(PLATE, [BOX], T0 + timedelta(hours=1)) is not None
    finally:
        conn.close()


def test_validity_window(store):
    take(store, PermitsSync(version=1, permits=[permit(start=1, hours=2)]))
    assert store.find(PLATE, [BOX], T0) is None
    assert store.find(PLATE, [BOX], T0 + timedelta(hours=1)) is not None
    assert store.find(PLATE, [BOX], T0 + timedelta(hours=3)) is None, "valid_until is exclusive"


def test_matching_needs_fitting_evidence(store):
    take(store, PermitsSync(version=1, permits=[permit(), permit("P-X", plate="", containers=(OTHER_BOX,))]))
    at = T0 + timedelta(minutes=5)
    assert store.find("沪 A·1234挂", [BOX], at).permit_id == "P-1", "plate spacing and dots normalised"
    assert store.find(PLATE, [], at).permit_id == "P-1", "empty truck collecting an import matches by plate"
    assert store.find("沪B9999挂", [BOX], at) is None, "another truck with this box"
    assert store.find(PLATE, [BOX, OTHER_BOX], at) is None, "a box not on the permit"
    assert store.find("沪B9999挂", [OTHER_BOX], at).permit_id == "P-X", "container-only permit"
    assert store.find(None, [], at) is None, "no evidence, no permit"
