"""Storage faults are told truthfully (issue 10): disk full, a file the node may not open, a
corrupt gate or task file, a file removed under a running node; files private to the node."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import stat
import textwrap

import pytest

from agent import storage
from agent.cli.main import main
from agent.config.model import GateSection
from agent.errors import StorageFullError
from agent.gate.station import GateStation
from agent.outbox import Outbox
from agent.personnel.allowlist import open_people_db
from agent.tasks import Board
from tests.gate.fakes import RecordingRecorder, ScriptedPlatform
from tests.tasks.fakes import RecordingRecorder as TaskRecorder

from .conftest import as_other_user, fill

pytestmark = pytest.mark.attack  # storage faults are findings of the attack pass (docs/security.md)


def write_config(folder, db, role="gate") -> str:
    path = folder / "node.toml"
    path.write_text(f'[node]\nid = "lane-1"\nsite = "yt"\nrole = "{role}"\n[gate]\nlane = "lane-1"\n'
                    f'[storage]\npath = "{db}"\n')
    return str(path)


# -- disk full ------------------------------------------------------------------------------

def test_a_full_disk_refuses_puts_in_words_and_status_says_storage_full(tiny_disk, capsys):
    db = tiny_disk / "lane-1.db"
    with Outbox(db, "lane-1") as outbox:
        first = outbox.put("scan", {"data": "before"})
        fill(tiny_disk)
        with pytest.raises(StorageFullError, match="storage full"):
            for n in range(200):  # the WAL's free pages absorb a few rows first
                outbox.put("scan", {"data": "x" * 2000, "n": n}, timeout=0.5)
        stats = outbox.stats()
        assert stats.disk_full and any("storage full" in r for r in stats.degraded()), stats.degraded()
        assert stats.errors.get("storage_full"), stats.errors

        assert main(["status", "--config", write_config(tiny_disk.parent, db)]) == 1, "status must not say healthy"
        out = capsys.readouterr().out
        assert "storage full" in out, out

        (tiny_disk / "filler").unlink()
        after = outbox.put("scan", {"data": "after"}, timeout=5)
        assert after.seq > first.seq and not outbox.stats().disk_full


def test_sqlite_full_is_read_as_full_wherever_the_disk_is_not(tmp_path):
    """The same reading without root: SQLite's max_page_count makes SQLITE_FULL."""
    with Outbox(tmp_path / "o.db", "lane-1") as outbox:
        outbox.put("scan", {"data": "a"})
        pages = outbox._writer._conn.execute("PRAGMA page_count").fetchone()[0]
        outbox._writer._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageFullError, match="storage full"):
            for n in range(100):
                outbox.put("scan", {"data": "x" * 3000, "n": n}, timeout=0.3)
        assert any(r.startswith("outbox storage full") for r in outbox.stats().degraded())


# -- permission -----------------------------------------------------------------------------

def test_an_outbox_the_node_may_not_open_is_named_not_moved_aside_and_seq_goes_on(shared_folder):
    db = shared_folder / "lane-1.db"
    with Outbox(db, "lane-1") as outbox:
        for n in range(5):
            outbox.put("scan", {"n": n})
    os.chown(db, 0, 0) if os.geteuid() == 0 else None
    db.chmod(0o000)
    try:
        ran = as_other_user(textwrap.dedent(f"""
            from agent.outbox import Outbox
            from agent.storage import StorageError
            try:
                Outbox({str(db)!r}, "lane-1")
            except StorageError as err:
                print("REFUSED", err.fault, err)
            else:
                print("OPENED")
        """), shared_folder)
    finally:
        db.chmod(0o600)
    assert "REFUSED not permitted" in ran.stdout, ran.stdout + ran.stderr
    assert f"cannot open {db}: permission denied" in ran.stdout
    assert not list(shared_folder.glob("*.corrupt-*")), "a healthy file was moved aside"
    with Outbox(db, "lane-1") as outbox:
        assert outbox.stats().depth == 5, "pending rows stranded"
        assert outbox.put("scan", {"n": 5}).seq == 6, "seq went back"


def test_status_and_run_say_permission_denied_without_a_traceback(shared_folder):
    db = shared_folder / "lane-1.db"
    with Outbox(db, "lane-1") as outbox:
        outbox.put("scan", {"n": 1})
    config = write_config(shared_folder, db)
    os.chmod(config, 0o644)
    db.chmod(0o000)
    try:
        status = as_other_user(f"from agent.cli.main import main; raise SystemExit(main(['status', '--config', {config!r}]))",
                               shared_folder)
        run = as_other_user(f"from agent.cli.main import main; raise SystemExit(main(['run', '--config', {config!r}, "
                            f"'--duration', '0.1']))", shared_folder)
    finally:
        db.chmod(0o600)
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"cannot open {db}: permission denied" in status.stdout
    assert "Traceback" not in status.stderr, status.stderr
    assert run.returncode == 1 and f"cannot open {db}: permission denied" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert not list(shared_folder.glob("*.corrupt-*"))


# -- corrupt gate and task files --------------------------------------------------------------

def test_a_corrupt_gate_db_is_moved_aside_named_and_the_station_starts(tmp_path, caplog):
    path = tmp_path / "lane-1.gate.db"
    path.write_bytes(b"not a database, the disk ate it " * 200)
    settings = GateSection(lane="lane-1", state_path=path)

    async def scenario() -> list[str]:
        station = GateStation(settings, RecordingRecorder(), ScriptedPlatform())
        try:
            await station.start()
            assert await station.permits.replace(_permits()), "the new file takes permits"
            return station.storage_reasons()
        finally:
            await station.close()

    reasons = asyncio.run(scenario())
    [aside] = list(tmp_path.glob("lane-1.gate.db.corrupt-*"))
    assert aside.read_bytes().startswith(b"not a database")
    assert reasons == [f"gate database was corrupt, moved aside to {aside}"]
    assert any(str(path) in r.message and "corrupt" in r.message for r in caplog.records)


def test_a_corrupt_task_db_is_moved_aside_and_the_board_starts(tmp_path):
    path = tmp_path / "pda-1.tasks.db"
    path.write_bytes(b"\x00garbage" * 1000)
    board = Board(path, node="pda-1", recorder=TaskRecorder())
    try:
        asyncio.run(board.start())
        [aside] = list(tmp_path.glob("pda-1.tasks.db.corrupt-*"))
        assert board.storage_reasons() == [f"tasks database was corrupt, moved aside to {aside}"]
        assert board.tasks() == []
    finally:
        asyncio.run(board.close())


def test_only_real_corruption_is_read_as_corrupt(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"x" * 4096)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(bad).execute("PRAGMA quick_check").fetchone()
    assert storage.classify(caught.value, bad) is storage.Fault.CORRUPT
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorname = "SQLITE_FULL"
    assert storage.classify(full, bad) is storage.Fault.FULL
    assert storage.classify(PermissionError(13, "Permission denied"), bad) is storage.Fault.NOT_PERMITTED
    cant = sqlite3.OperationalError("unable to open database file")
    cant.sqlite_errorname = "SQLITE_CANTOPEN"
    assert storage.classify(cant, tmp_path / "gone" / "x.db") is storage.Fault.GONE


# -- removed under a running node -----------------------------------------------------------

def test_an_outbox_removed_while_running_is_rebuilt_and_nothing_vanishes(tmp_path, caplog):
    db = tmp_path / "lane-1.db"
    with Outbox(db, "lane-1") as outbox:
        for n in range(3):
            outbox.put("scan", {"n": n})
        for companion in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            companion.unlink(missing_ok=True)  # `rm lane-1.db*` by a careless hand
        for n in range(3, 6):
            assert outbox.put("scan", {"n": n}, timeout=5).seq == n + 1
        reasons = outbox.stats().degraded()
        assert any(r.startswith(f"outbox database file removed: {db}") for r in reasons), reasons
        assert db.exists()
    with Outbox(db, "lane-1") as outbox:
        assert outbox.stats().depth == 6, "records answered 'stored' after the removal vanished"
        assert outbox.put("scan", {"n": 6}).seq == 7
    assert any("database file removed" in r.message for r in caplog.records)


def test_status_says_database_file_removed_while_the_node_still_holds_it(tmp_path, capsys):
    db = tmp_path / "lane-1.db"
    config = write_config(tmp_path, db)
    with Outbox(db, "lane-1") as outbox:
        outbox.put("scan", {"n": 0})
        db.unlink()  # the node has not written since: its -wal is still there
        assert main(["status", "--config", config]) != 0
        assert f"database file removed: {db}" in capsys.readouterr().err


def test_an_outbox_that_cannot_be_rebuilt_refuses_puts_and_says_removed(tmp_path):
    folder = tmp_path / "var"
    db = folder / "lane-1.db"
    with Outbox(db, "lane-1", put_timeout_s=0.5) as outbox:
        outbox.put("scan", {"n": 0})
        shutil.rmtree(folder)
        folder.write_text("a file where the data folder was")  # nothing can be made there
        with pytest.raises(StorageFullError, match="database file removed"):
            outbox.put("scan", {"n": 1})
        assert any("database file removed" in r for r in outbox.stats().degraded())
    folder.unlink()


def test_an_outbox_replaced_under_the_node_is_not_overwritten(tmp_path):
    db = tmp_path / "lane-1.db"
    with Outbox(db, "lane-1", put_timeout_s=0.5) as outbox:
        outbox.put("scan", {"n": 0})
        db.unlink()
        db.write_bytes(b"an operator's file")  # e.g. a restore from backup, done while the node runs
        with pytest.raises(StorageFullError, match="replaced by another file"):
            outbox.put("scan", {"n": 1})
    assert db.read_bytes() == b"an operator's file"


def test_a_gate_db_removed_while_running_is_rebuilt(tmp_path):
    path = tmp_path / "gate.db"
    settings = GateSection(lane="lane-1", state_path=path)

    async def scenario() -> list[str]:
        station = GateStation(settings, RecordingRecorder(), ScriptedPlatform())
        try:
            assert await station.permits.replace(_permits(1))
            path.unlink()
            assert await station.permits.replace(_permits(2))
            assert station.permits.version == 2
            return station.storage_reasons()
        finally:
            await station.close()

    reasons = asyncio.run(scenario())
    assert any(r.startswith(f"gate database file removed: {path}") for r in reasons), reasons
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM permit_set").fetchone() == (2,)


# -- modes ----------------------------------------------------------------------------------

def test_files_are_created_0600_in_a_0700_folder(tmp_path):
    folder = tmp_path / "var" / "portedge"
    with Outbox(folder / "lane-1.db", "lane-1") as outbox:
        outbox.put("scan", {"n": 1})
        board = Board(folder / "lane-1.tasks.db", node="pda-1", recorder=TaskRecorder())
        asyncio.run(board.close())
        open_people_db(folder / "lane-1.people.db").close()  # hashed ID keys: others must not read them
        made = [p for p in folder.iterdir()]
        assert {p.name for p in made} >= {"lane-1.db", "lane-1.db-wal", "lane-1.db-shm", "lane-1.tasks.db",
                                          "lane-1.people.db"}
        for p in made:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, f"{p.name}: {oct(p.stat().st_mode)}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700


# -- the platform is told -------------------------------------------------------------------

def test_the_retained_state_says_storage_full_when_the_heartbeat_cannot_be_stored(mosquitto, collector_factory,
                                                                                     tmp_path):
    import random

    from agent.contract.topics import Kind, site_filter
    from agent.link import Link
    from tests.link.conftest import node_config

    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.STATE)])
    config = node_config(mosquitto.url, tmp_path / "o.db", heartbeat_s=0.2)

    async def scenario() -> None:
        outbox = Outbox(config.storage.path, config.node.id)
        link = Link(config, outbox, rng=random.Random(1))
        await link.start()
        try:
            deadline = asyncio.get_running_loop().time() + 10
            while not collector.payloads("/state"):
                assert asyncio.get_running_loop().time() < deadline, "no birth"
                await asyncio.sleep(0.02)
            pages = outbox._writer._conn.execute("PRAGMA page_count").fetchone()[0]
            outbox._writer._conn.execute(f"PRAGMA max_page_count = {pages + 4}")
            # a record bigger than the room left: it waits, and every commit with it fails
            waiting = asyncio.create_task(outbox.aput("scan", {"data": "x" * 100_000}, timeout=30))

            def told() -> bool:
                last = collector.payloads("/state")[-1]
                return any("storage full" in r for r in (last["body"].get("health") or {}).get("degraded", []))

            while not told():
                assert asyncio.get_running_loop().time() < deadline, json.dumps(collector.payloads("/state")[-1])
                await asyncio.sleep(0.05)
            assert not waiting.done(), "the put was answered stored on a full store"
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
        finally:
            await link.stop()
            outbox.close()

    asyncio.run(scenario())


def _permits(version: int = 1):
    from agent.contract.gate import PermitsSync

    return PermitsSync(version=version, permits=[])
