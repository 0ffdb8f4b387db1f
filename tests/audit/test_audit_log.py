"""The audit log: sealed entries, a chain that shows any change, the file on disk, the CLI."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from agent.audit import GENESIS, AuditLog, seal, verify_lines
from agent.cli.main import main
from agent.clock import FakeClock
from agent.errors import AuditFullError


def _fill(path, n: int, clock=None) -> AuditLog:
    audit = AuditLog(path, "lane-1", clock=clock or FakeClock())
    for i in range(n):
        audit.append("barrier", "lane", "opening" if i % 2 else "closing", {"transaction_id": f"T{i:05d}", "why": "测试"})
    return audit


@pytest.fixture(scope="module")
def big_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "lane-1.audit.jsonl"
    audit = _fill(path, 10_000)
    audit.close()
    return path.read_bytes()


def test_seal_and_verify_round_trip():
    a = seal(1, "2026-12-01T08:00:00+00:00", "lane-1", "staff", "G1", "open", {"reason": "papers ok"}, GENESIS)
    b = seal(2, "2026-12-01T08:00:01+00:00", "lane-1", "barrier", "lane", "opening", {}, a.hash)
    verdict = verify_lines([a.line(), b.line()])
    assert verdict.ok and verdict.entries == 2 and verdict.head == (2, b.hash)
    assert b.prev == a.hash and len(a.hash) == 64


def test_a_removed_or_reordered_entry_is_named():
    entries = [seal(1, "t", "l", "k", "a", "w", {}, GENESIS)]
    for i in range(2, 6):
        entries.append(seal(i, "t", "l", "k", "a", "w", {}, entries[-1].hash))
    lines = [e.line() for e in entries]
    removed = verify_lines(lines[:2] + lines[3:])
    assert removed.broken_at == 3 and "seq" in removed.reason
    swapped = verify_lines([lines[0], lines[2], lines[1]])
    assert swapped.broken_at == 2


def test_one_flipped_byte_in_ten_thousand_entries_is_found(big_log, tmp_path, capsys):
    assert verify_lines(big_log.splitlines(keepends=True)).entries == 10_000
    rng = random.Random(6346)
    for position in [0, len(big_log) - 1, *rng.sample(range(len(big_log)), 6)]:
        damaged = bytearray(big_log)
        damaged[position] ^= 0x01
        path = tmp_path / "damaged.jsonl"
        path.write_bytes(bytes(damaged))
        line = big_log.count(b"\n", 0, position) + 1  # the entry holding the byte
        assert main(["audit", "verify", "--log", str(path)]) == 1
        out = capsys.readouterr().out
        assert f"BROKEN at entry {line} " in out, (position, out)


def test_an_intact_log_verifies(big_log, tmp_path, capsys):
    path = tmp_path / "ok.jsonl"
    path.write_bytes(big_log)
    assert main(["audit", "verify", "--log", str(path)]) == 0
    assert "10000 entries, chain intact" in capsys.readouterr().out


def test_reopening_continues_the_chain_and_cuts_a_torn_tail(tmp_path):
    path = tmp_path / "a.jsonl"
    _fill(path, 3).close()
    with open(path, "ab") as f:
        f.write(b'{"seq":4,"ts":"half')  # a crash inside a write
    audit = AuditLog(path, "lane-1", clock=FakeClock())
    audit.append("mode", "lane", "manual")
    audit.close()
    verdict = verify_lines(path.read_bytes().splitlines(keepends=True))
    assert verdict.ok and verdict.entries == 5, verdict
    kinds = [json.loads(x)["what"] for x in path.read_bytes().splitlines()]
    assert kinds[3:] == ["torn_tail_cut", "manual"]


def test_record_waits_for_the_disk_and_listeners_see_each_entry(tmp_path):
    seen = []

    async def scenario():
        audit = AuditLog(tmp_path / "a.jsonl", "lane-1")
        audit.add_listener(seen.append)
        entry = await audit.record("staff", "G7", "open", {"reason": "papers checked"})
        on_disk = (tmp_path / "a.jsonl").read_bytes()
        audit.close()
        return entry, on_disk

    entry, on_disk = asyncio.run(scenario())
    assert on_disk == entry.line() and seen == [entry]


def test_a_stalled_writer_refuses_before_sealing(tmp_path):
    audit = AuditLog(tmp_path / "a.jsonl", "lane-1", max_pending=0)
    with pytest.raises(AuditFullError):
        audit.append("staff", "G7", "open")
    assert audit.head == (0, GENESIS) and audit.degraded()
    audit.close()


def test_export_writes_a_date_range_as_json_lines(tmp_path, capsys):
    clock = FakeClock()  # 2026-01-01 08:00 UTC
    path = tmp_path / "a.jsonl"
    audit = AuditLog(path, "lane-1", clock=clock)
    for _ in range(3):
        audit.append("barrier", "lane", "opening")
        clock.advance(86400)
    audit.close()
    out = tmp_path / "customs.jsonl"
    assert main(["audit", "export", "--log", str(path), "--from", "2026-01-02", "--to", "2026-01-03", "-o", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["seq"] for r in rows] == [2, 3] and all(r["ts"].startswith("2026-01-0") for r in rows)
    assert main(["audit", "export", "--log", str(path), "--from", "yesterday", "--to", "2026-01-03"]) == 2
    assert "--from/--to" in capsys.readouterr().err


def test_verify_without_a_log_says_so(tmp_path, capsys):
    assert main(["audit", "verify", "--log", str(tmp_path / "none.jsonl")]) == 2
    assert "no audit log at" in capsys.readouterr().err
