"""Person traffic end to end: the reader and badge stubs on ptys, the turnstile stub as a real
Modbus peer, a real mosquitto and the platform simulator. Covers a valid pass (long-term
card), a dated card, an expired card, a blacklisted person, tailgating, a card pulled
mid-read, a badge, the platform silent (offline allow-list, reconciled later) and the reader
unplugged; then scans every file the scenario left, the log and every message published on
the broker for the clear ID numbers used (and the name), and finds none."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from .kit import CLEAR_NUMBERS, DATED, EXPIRED, VALID
from .rig import PeopleSetup, until

BLACKLISTED = VALID | {"id_number": "110105198003070039", "valid_until": "20400101"}


def run(mosquitto, tmp_path, scenario, **personnel):
    async def main():
        setup = await PeopleSetup.open(mosquitto.url, tmp_path, **personnel)
        try:
            return await asyncio.wait_for(scenario(setup), 120)
        finally:
            await setup.close()

    return asyncio.run(main())


def test_online_traffic_and_the_privacy_scan(mosquitto, tmp_path):
    async def scenario(s: PeopleSetup):
        s.grant(VALID["id_number"])
        s.grant(DATED["id_number"])
        s.platform.blacklist.add(s.person_key(BLACKLISTED["id_number"]))
        s.platform.area_passes[s.badge_key(12, 3456)] = {"apron"}

        await s.present(VALID)  # a long-term card, allowed: one unlock, one passage
        await s.walk_when_unlocked()
        (first,) = await s.wait_passages(1)

        await s.present(EXPIRED)  # refused at the edge: the platform is not even asked
        await s.wait_passages(2)

        await s.present(BLACKLISTED)  # the platform denies
        await s.wait_passages(3)

        await s.present(DATED)  # inside its window; two walk through on one unlock
        await s.walk_when_unlocked(people=2)
        await s.wait_passages(4)
        await until(lambda: any(a["what"] == "tailgating" for a in s.alarms()), 10, "the tailgating alarm")

        s.reader.pull_mid_read = True  # the card leaves the field mid-read
        await s.present(VALID)
        await s.wait_passages(5)

        s.badges.swipe(12, 3456)  # a staff badge
        await s.walk_when_unlocked()
        await s.wait_passages(6)
        verify = s.platform.ledger.bodies("person_verify", "apron-1")
        return s.passages(), s.alarms(), s, s.people.counters["unlocks"], verify, dict(s.platform.stats.invalid)

    passages, alarms, s, unlocks, verify, invalid = run(mosquitto, tmp_path, scenario)
    outcomes = [(p["outcome"], p.get("reason", "")) for p in passages]
    assert outcomes[0] == ("passed", "") and passages[0]["masked"] == "110105********002X"
    assert outcomes[1] == ("invalid_card", "card expired")
    assert outcomes[2] == ("denied", "blacklisted")
    assert outcomes[3][0] == "passed" and passages[3]["passages"] == 1 and passages[3]["tailgaters"] == 1
    assert outcomes[4][0] == "read_failed" and "pulled" in outcomes[4][1]
    assert outcomes[5][0] == "passed" and passages[5]["credential"] == "badge"
    assert all(p["passages"] <= 1 for p in passages)
    # (a loaded machine may also see a slow turnstile as lost for a moment: not this test's point)
    assert [a["what"] for a in alarms if a["what"] != "turnstile_lost"] == ["tailgating"]
    assert unlocks == 3 and [a[1] for a in s.turnstile.model.audit].count("unlocked") == 3
    assert invalid == {}, "every published message validates against the contract"
    assert len(verify) == 4 and all(v["name"] is None for v in verify), "names travel only when asked"
    assert_no_clear_data(tmp_path, s, ["张三"])


def test_platform_silent_the_allow_list_decides_then_reconciles(mosquitto, tmp_path):
    async def scenario(s: PeopleSetup):
        allowed, blocked = s.person_key(VALID["id_number"]), s.person_key(DATED["id_number"])
        await s.push_allow_list(2, [allowed, blocked], blocked=[blocked])
        s.grant(VALID["id_number"])
        s.platform.silent = True
        await s.present(VALID)  # offline: on the list
        await s.walk_when_unlocked()
        await s.wait_passages(1)
        await s.present(DATED)  # offline: blacklisted on the list
        await s.wait_passages(2)
        s.platform.silent = False
        await until(lambda: s.platform.ledger.bodies("person_reconcile", "apron-1"), 20, "reconciliation")

        s.id_line.unplug()  # the reader unplugged: offline, then back
        await until(lambda: s.node.device_status.get("id-1") and s.node.device_status["id-1"].status != "online",
                    15, "the reader offline")
        s.id_line.replug()
        await until(lambda: s.node.device_status["id-1"].status == "online", 15, "the reader back")
        await s.present(VALID)
        await s.walk_when_unlocked()
        await s.wait_passages(3)
        reconciled = s.platform.ledger.bodies("person_reconcile", "apron-1")
        statuses = [d["status"] for d in s.platform.ledger.bodies("device_status", "apron-1") if d["device"] == "id-1"]
        return s, s.passages(), reconciled, statuses

    s, (first, second, third), reconciled, statuses = run(mosquitto, tmp_path, scenario)
    assert first["outcome"] == "passed" and first["offline"] and first["decision"]["by"] == "offline"
    assert second["outcome"] == "denied" and second["decision"]["reason"] == "blacklisted"
    assert third["outcome"] == "passed" and not third["offline"]
    assert {r["pass_id"] for r in reconciled} >= {first["pass_id"]} and all(r["agree"] for r in reconciled)
    assert "offline" in statuses or "error" in statuses
    assert_no_clear_data(tmp_path, s, [])


def test_photos_kept_only_when_configured_and_purged_after_retention(mosquitto, tmp_path):
    async def scenario(s: PeopleSetup):
        s.grant(VALID["id_number"])
        await s.present(VALID)
        await s.walk_when_unlocked()
        (passage,) = await s.wait_passages(1)
        folder = tmp_path / "node" / "photos"
        assert passage["photo_ref"] and (folder / passage["photo_ref"]).read_bytes() == bytes(1024)
        await until(lambda: not list(folder.glob("*.wlt")), 15, "the photo purged after its retention")
        return s

    run(mosquitto, tmp_path, scenario, store_photos=True, photo_retention_s=1.0)


def assert_no_clear_data(folder: Path, s: PeopleSetup, extra: list[str]) -> None:
    needles = []
    for text in [*CLEAR_NUMBERS, *extra]:
        needles += [text.encode(), text.encode("utf-16-le"), json.dumps(text).encode()]
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    assert any(p.name.endswith(".db") for p in files) and s.log_path in files
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"clear personal data in {path.relative_to(folder)}"
    assert s.sniffer.payloads, "the sniffer saw the traffic"
    for payload in s.sniffer.payloads:
        for needle in needles:
            assert needle not in payload, f"clear personal data published: {payload[:200]!r}"


def test_the_scan_finds_a_clear_number_when_there_is_one(tmp_path):
    """The privacy scan is not vacuous: one number in one file, in any encoding, fails it."""
    class Seen:
        log_path = tmp_path / "agent.log"
        sniffer = type("S", (), {"payloads": [b"{}"]})()

    Seen.log_path.write_text("nothing here")
    (tmp_path / "x.db").write_bytes(b"")
    assert_no_clear_data(tmp_path, Seen, [])
    for leak in (CLEAR_NUMBERS[0].encode(), CLEAR_NUMBERS[1].encode("utf-16-le")):
        (tmp_path / "x.db").write_bytes(b"row:" + leak)
        with pytest.raises(AssertionError, match="clear personal data in x.db"):
            assert_no_clear_data(tmp_path, Seen, [])
    (tmp_path / "x.db").write_bytes(b"")
    Seen.sniffer.payloads.append(json.dumps({"n": CLEAR_NUMBERS[2]}).encode())
    with pytest.raises(AssertionError, match="published"):
        assert_no_clear_data(tmp_path, Seen, [])
