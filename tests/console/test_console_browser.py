"""The booth console in a real browser (Debian chromium, Playwright) on a real lane: firmware
stubs over ptys, a real mosquitto, the platform simulator. A clerk logs in, watches a truck
pass, resolves a TROUBLE by correcting a misread box (the barrier then opens in the controller
stub), is refused a close while the safety loop is occupied (and sees why), and the page's
audit entries are the audit log's own."""

from __future__ import annotations

import json
import re

import pytest

from agent.audit import verify_lines
from agent.console.sessions import make_pin_hash
from agent.gate.events import State
from simulators.mosquitto import free_port

from ..gate_e2e.lane import LaneSetup, make_truck, until
from .conftest import launch, shot

pytestmark = pytest.mark.slow
BADGE, PIN = "G0042", "4711"


def _bad_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def console_toml(port: int) -> str:
    return (f'[console]\nlisten = "127.0.0.1:{port}"\n[[console.staff]]\nbadge = "{BADGE}"\nname = "王工"\n'
            f'pin_hash = "{make_pin_hash(BADGE, PIN, n=2**10)}"\n')


async def _text(page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def _wait_text(page, selector: str, pattern: str, timeout_s: float = 30.0) -> None:
    from playwright.async_api import expect

    await expect(page.locator(selector)).to_contain_text(re.compile(pattern), timeout=timeout_s * 1000)


def test_clerk_watches_a_truck_resolves_trouble_and_is_refused_an_unsafe_close(lane_run, browser_needed, tmp_path):
    from playwright.async_api import async_playwright

    port = free_port()
    good, misread = make_truck(31), make_truck(32)

    async def scenario(lane: LaneSetup):
        console = lane.node.console
        assert console is not None and lane.node.config.console.listen == f"127.0.0.1:{port}"
        url = f"http://127.0.0.1:{console.port}/"
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="en-US")
                await page.goto(url)
                await _wait_text(page, "#state", "IDLE")
                await _wait_text(page, "#link", "online|已连接")
                await shot(page, "1-idle")

                # a wrong PIN is refused; the right one logs in
                await page.fill("#badge", BADGE)
                await page.fill("#pin", "0000")
                await page.click("#login-btn")
                await _wait_text(page, "#result", "not accepted")
                await page.fill("#pin", PIN)
                await page.click("#login-btn")
                await page.wait_for_selector("#who:not([hidden])")
                assert await page.locator("#staff").is_enabled()

                # a truck passes on the platform's decision; the page follows it live
                lane.preadvise(good)
                await lane.arrive(good)
                await lane.read(good)
                await _wait_text(page, "#plate", re.escape(good.plate))
                await lane.wait_open()
                await _wait_text(page, "#state", "BARRIER_OPEN|PASSED")
                await _wait_text(page, "#decision", "by platform")
                await shot(page, "2-barrier-open")
                await lane.pass_under()
                await lane.wait_transactions(1)
                await lane.wait_closed()
                await _wait_text(page, "#transactions", "passed")

                # a misread box: TROUBLE; the clerk types the right number; the platform allows
                lane.preadvise(misread)
                await lane.arrive(misread)
                bad = _bad_check_digit(misread.containers[0])
                await lane.read(misread, front=bad)
                await lane.wait_state(State.TROUBLE)
                await _wait_text(page, "#state", "TROUBLE")
                await _wait_text(page, "#trouble", "check digit")
                await _wait_text(page, "#reads", "✘")
                await page.select_option("#fix-pos", "front")
                await page.fill("#fix-number", bad)
                await _wait_text(page, "#fix-check", "✘")  # checked in the page before it is sent
                await shot(page, "3-trouble")
                await page.fill("#fix-number", misread.containers[0].lower())
                await page.fill("#reason", "front camera misread the check digit")
                await page.click("#fix")
                await _wait_text(page, "#result", "done")
                await lane.wait_open()
                await _wait_text(page, "#state", "BARRIER_OPEN|PASSED")
                await shot(page, "4-corrected-open")

                # the truck is under the barrier: a manual close is refused, with the reason
                lane.model.truck_under_barrier()
                await until(lambda: lane.station.lane.safety, 10, "the lane to see the safety loop")
                await page.click("#close")
                await _wait_text(page, "#result", "refused .*safety loop occupied")
                await _wait_text(page, "#staff-actions", "refused")
                await shot(page, "5-close-refused")
                assert lane.model.open_limit and not lane.unsafe_closings()
                lane.model.truck_leaves()
                await until(lambda: lane.station.lane.exit, 10, "the lane to see the exit loop")
                lane.model.truck_gone()
                await lane.wait_transactions(2)
                await lane.wait_closed()
                await _wait_text(page, "#audit", "close refused")

                # zh: the same page in Chinese
                await page.click("#lang")
                await _wait_text(page, "h1", "车道")
                await shot(page, "6-zh")
                page_audit = await page.locator("#audit tr").all_inner_texts()
                head = await _text(page, "#audit-head")
                tablet = await browser.new_page(viewport={"width": 1024, "height": 768})
                await tablet.goto(url)
                await _wait_text(tablet, "#state", "IDLE")
                await shot(tablet, "7-tablet")
                await tablet.close()
            finally:
                await browser.close()
            seen = lane.node.audit.head[0]  # a heartbeat (every 2 s) carries the chain head out
            await until(lambda: ((lane.platform.ledger.latest("heartbeat", "lane-1") or {}).get("audit") or {})
                        .get("seq", 0) >= seen, 15, "a heartbeat with the audit head")
        return (page_audit, head, lane.transactions(), lane.platform.ledger.bodies("staff_action", "lane-1"),
                lane.platform.ledger.latest("heartbeat", "lane-1")["audit"])

    page_audit, head, transactions, staff_actions, beat = lane_run(scenario, extra_toml=console_toml(port), timeout=240)
    assert [t["outcome"] for t in transactions] == ["passed", "passed"]
    assert transactions[1]["containers"][0]["number"] == misread.containers[0]
    assert [(a["action"], a["outcome"]) for a in staff_actions] == [("correct_container", "done"), ("close", "refused")]
    assert "safety loop occupied" in staff_actions[1]["reason"]

    log = tmp_path / "lane-1" / "lane-1.audit.jsonl"
    raw = log.read_bytes()
    verdict = verify_lines(raw.splitlines(keepends=True))
    assert verdict.ok, verdict
    entries = [json.loads(x) for x in raw.splitlines()]
    # the page's audit table is the log's newest entries when it was read, newest first, each
    # exactly as the log has it (entries written later, e.g. the barrier's "stopped", are not on it)
    shown = [row.split("\t")[:4] for row in page_audit]
    top = int(shown[0][0])
    expected = [[str(e["seq"]), e["kind"], e["actor"], e["what"]] for e in reversed(entries[:top])][:len(shown)]
    assert shown == expected and top >= int(head.split(" ")[0])
    head_seq = int(head.split(" ")[0])
    assert head.startswith(f"{head_seq} · {entries[head_seq - 1]['hash'][:16]}")
    assert beat["hash"] == entries[beat["seq"] - 1]["hash"], "the heartbeat's head is not the log's entry"
    staff = [e for e in entries if e["kind"] == "staff"]
    assert [(e["actor"], e["what"]) for e in staff] == [(BADGE, "correct_container"), (BADGE, "close refused")]
    assert {e["what"] for e in entries if e["kind"] == "barrier"} >= {"opening", "closing"}
    assert [e["what"] for e in entries if e["kind"] == "decision"] == ["allow", "allow"]
