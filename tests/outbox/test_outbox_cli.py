"""`portedge outbox stats|peek|export` and `portedge status` read the node's database."""

from __future__ import annotations

import json

from agent.cli.main import main
from agent.config.model import ClassCap
from agent.outbox import Outbox


def write_config(tmp_path, db) -> str:
    path = tmp_path / "node.toml"
    path.write_text(f'[node]\nid = "lane-1"\nsite = "yt"\nrole = "gate"\n[gate]\nlane = "lane-1"\n'
                    f'[storage]\npath = "{db}"\n'
                    '[storage.caps.transactional]\nmax_rows = 2\nmax_bytes = 100000\n')
    return str(path)


def test_outbox_commands_and_status(tmp_path, capsys):
    db = tmp_path / "o.db"
    with Outbox(db, "lane-1", caps={"transactional": ClassCap(max_rows=2, max_bytes=100000)}) as outbox:
        outbox.put("scan", {"data": "A"})
        outbox.put("lane_event", {"what": "barrier"}, "control")
        outbox.put("scan", {"data": "B"})
    config = write_config(tmp_path, db)

    assert main(["outbox", "stats", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "last seq 3" in out and "transactional" in out

    assert main(["outbox", "peek", "-n", "2", "--config", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["control", "transactional"]

    target = tmp_path / "export.jsonl"
    assert main(["outbox", "export", str(target), "--config", config]) == 0
    exported = [json.loads(line) for line in target.read_text().splitlines()]
    assert [e["message"]["seq"] for e in exported] == [2, 1, 3]

    assert main(["status", "--config", config]) == 1  # transactional at its cap of 2 rows
    out = capsys.readouterr().out
    assert "DEGRADED" in out and "transactional" in out


def test_status_names_a_missing_database(tmp_path, capsys):
    config = write_config(tmp_path, tmp_path / "none.db")
    assert main(["status", "--config", config]) == 2
    assert "no outbox database" in capsys.readouterr().err
