"""Driver login: the platform decides when it can be asked; offline, only a badge it verified
on this PDA, with the same PIN, before the cache expires."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from pydantic import ValidationError

from agent.config.model import PdaSection

from .fakes import Rig


def run(coro):
    return asyncio.run(coro)


def test_online_login_asks_the_platform(rig: Rig):
    result = run(rig.board.login(" D1024 ", "4711"))
    assert (result.ok, result.code, result.offline, result.driver.name) == (True, "login_ok", False, "王师傅")
    assert rig.platform.asked[0][0] == "driver_login" and rig.platform.asked[0][1].badge == "D1024"
    assert rig.board.driver.badge == "D1024" and rig.board.driver.offline is False


def test_online_refusal(rig: Rig):
    result = run(rig.board.login("D1024", "0000"))
    assert (result.ok, result.code) == (False, "login_refused") and rig.board.driver is None


def test_offline_login_with_the_cached_hash(rig: Rig):
    run(rig.board.login("D1024", "4711"))
    run(rig.board.logout())
    rig.platform.down = True
    wrong = run(rig.board.login("D1024", "4712"))
    right = run(rig.board.login("D1024", "4711"))
    assert (wrong.ok, wrong.code) == (False, "login_refused")
    assert (right.ok, right.code, right.offline) == (True, "login_ok_offline", True)
    assert rig.board.driver.offline is True and rig.board.driver.name == "王师傅"


def test_a_platform_error_answer_also_falls_back_to_the_cache(rig: Rig):
    run(rig.board.login("D1024", "4711"))
    rig.platform.error = True
    assert run(rig.board.login("D1024", "4711")).code == "login_ok_offline"


def test_offline_unknown_driver_is_refused(rig: Rig):
    rig.platform.down = True
    result = run(rig.board.login("D2048", "2222"))  # a real driver, but never verified on this PDA
    assert (result.ok, result.code) == (False, "login_unknown_offline")


def test_offline_cache_expires(tmp_path):
    rig = Rig(tmp_path, PdaSection(pin_hash_n=2**10, offline_login_s=3600))
    try:
        run(rig.board.login("D1024", "4711"))
        rig.platform.down = True
        rig.clock.advance(3599)
        assert run(rig.board.login("D1024", "4711")).ok
        rig.clock.advance(1)
        result = run(rig.board.login("D1024", "4711"))
        assert (result.ok, result.code) == (False, "login_expired")
    finally:
        run(rig.board.close())


def test_wrong_offline_pins_lock_the_badge_until_an_online_login(tmp_path):
    rig = Rig(tmp_path, PdaSection(pin_hash_n=2**10, offline_max_failures=3))
    try:
        run(rig.board.login("D1024", "4711"))
        rig.platform.down = True
        codes = [run(rig.board.login("D1024", pin)).code for pin in ("1111", "2222", "3333", "4711")]
        assert codes == ["login_refused", "login_refused", "login_refused", "login_locked"]
        rig.platform.down = False
        assert run(rig.board.login("D1024", "4711")).code == "login_ok"
        rig.platform.down = True
        assert run(rig.board.login("D1024", "4711")).code == "login_ok_offline"
    finally:
        run(rig.board.close())


def test_a_platform_refusal_forgets_the_cached_pin(rig: Rig):
    run(rig.board.login("D1024", "4711"))
    rig.platform.drivers["D1024"] = ("9999", "王师傅")  # PIN changed centrally
    assert run(rig.board.login("D1024", "4711")).code == "login_refused"
    rig.platform.down = True
    assert run(rig.board.login("D1024", "4711")).code == "login_unknown_offline"


def test_no_requester_means_offline(tmp_path):
    rig = Rig(tmp_path)
    try:
        run(rig.board.login("D1024", "4711"))
        run(rig.board.close())
        from agent.tasks import Board
        rig.board = Board(rig.path, node="pda-1", recorder=rig.recorder, requester=None, clock=rig.clock,
                          config=rig.config)
        assert run(rig.board.login("D1024", "4711")).code == "login_ok_offline"
    finally:
        run(rig.board.close())


def test_a_too_short_pin_is_refused_without_asking(rig: Rig):
    assert run(rig.board.login("D1024", "47")).code == "login_refused"
    assert rig.platform.asked == []


def test_shift_change_keeps_the_old_driver_when_the_new_login_fails(rig: Rig):
    run(rig.board.login("D1024", "4711"))
    failed = run(rig.board.login("D2048", "0000"))
    assert not failed.ok and rig.board.driver.badge == "D1024"
    done = run(rig.board.login("D2048", "2222"))
    assert done.ok and rig.board.driver.badge == "D2048"


def test_the_pin_is_never_stored_in_clear(rig: Rig):
    run(rig.board.login("D1024", "4711"))
    run(rig.board.close())
    db = sqlite3.connect(rig.path)
    dump = "\n".join(db.iterdump())
    db.close()
    assert "4711" not in dump
    rig.board = rig._new()


def test_the_pda_section_of_a_node_config():
    from agent.config.model import NodeConfig

    config = NodeConfig.model_validate({"node": {"id": "pda-7", "site": "yt", "role": "pda"},
                                        "pda": {"offline_login_s": 8 * 3600, "location_pattern": "^H\\d-\\d{3}$"}})
    assert config.pda.offline_login_s == 8 * 3600 and config.pda.language == "zh"
    assert NodeConfig.model_validate({"node": {"id": "lane-1", "site": "yt", "role": "gate"}}).pda is None
    for bad in ({"location_pattern": "("}, {"pin_hash_n": 3000}, {"offline_login_s": 0}):
        with pytest.raises(ValidationError):
            PdaSection.model_validate(bad)
