"""The presenter without any display: intents in, view models out, on the real task board
(pda_app.demo: real Board on SQLite, in-memory recorder) and on a stand-in at the board seam."""

from __future__ import annotations

import asyncio

import pytest

from pda_app.demo import make_demo
from pda_app.presenter import Presenter
from tests.pda.stub_board import StubBoard, task


@pytest.fixture
def demo(tmp_path):
    d = asyncio.run(make_demo(tmp_path))
    yield d
    asyncio.run(d.close())


def run(coro):
    return asyncio.run(coro)


def logged_in(demo):
    p = demo.presenter
    run(p.scan(demo.badge))
    for digit in demo.pin:
        p.key(digit)
    assert run(p.login()).ok
    while p.view().notice:
        p.dismiss_notice()
    return p


def test_badge_scan_on_login_fills_badge_and_moves_to_pin(demo):
    p = demo.presenter
    assert p.view().screen == "login"
    run(p.scan("  D-20417 \n", source="ring-1"))
    vm = p.view().login
    assert (vm.badge, vm.focus) == ("D-20417", "pin")


def test_short_pin_is_refused_before_asking_the_platform(demo):
    p = demo.presenter
    run(p.scan(demo.badge))
    p.key("1")
    assert run(p.login()) is None
    assert p.view().login.message == "密码至少 4 位" and p.view().login.message_is_error


def test_wrong_pin_says_why_in_chinese_and_clears_the_pin(demo):
    p = demo.presenter
    run(p.scan(demo.badge))
    for d in "9999":
        p.key(d)
    result = run(p.login())
    vm = p.view()
    assert not result.ok and vm.screen == "login"
    assert vm.login.message == "登录失败：工牌或密码错误" and vm.login.pin_mask == ""


def test_list_puts_overdue_first_and_marks_it(demo):
    vm = logged_in(demo).view()
    assert vm.screen == "tasks" and vm.tasks.title == "我的任务 (3)"
    assert [r.task_id for r in vm.tasks.rows] == ["T-1039", "T-1042", "T-1045"]
    assert vm.tasks.rows[0].overdue and vm.tasks.rows[0].overdue_text == "已超时"
    assert not vm.tasks.rows[1].overdue and vm.tasks.rows[1].overdue_text == ""
    assert vm.status.driver_text == "王师傅 Wang"


def test_whole_task_right_answers_ticks_and_updates(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    d = p.view().detail
    assert (d.source, d.destination, d.can_accept, d.state_text) == ("A-03-12-2", "BAY-07", True, "待接受")
    assert run(p.accept()).ok and p.view().feedback is None  # right/wrong answers scans only
    assert run(p.scan(demo.source)).ok and p.view().feedback.headline == "正确 / Right"
    run(p.scan(demo.pieces[1]))  # piece 2 first: ticks follow the label, not the order
    ticks = [x.done for x in p.view().detail.pieces]
    assert ticks == [False, True, False] and p.view().detail.pieces_title == "货物 1/3"
    for label in (demo.pieces[0], demo.pieces[2]):
        assert run(p.scan(label)).ok
    assert p.view().detail.next_text == "请扫描目的地标签"
    assert run(p.scan(demo.destination)).ok and p.view().detail.can_complete
    assert run(p.complete()).ok
    vm = p.view()
    assert vm.screen == "tasks" and "T-1042" not in [r.task_id for r in vm.tasks.rows]
    states = [e.body.state for e in demo.recorder.sent if e.body.task_id == "T-1042"]
    assert states == ["ASSIGNED", "ACCEPTED", "AT_SOURCE", "PICKED", "DELIVERED", "COMPLETED"]


def test_wrong_scan_is_red_stays_until_tapped_and_does_not_advance(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    run(p.accept())
    run(p.scan(demo.source))
    result = run(p.scan(demo.wrong_piece))
    fb = p.view().feedback
    assert not result.ok and not fb.ok and fb.headline == "错误 / Wrong"
    assert fb.message == "不是本任务的货物"
    assert fb.scanned_text == f"扫描: {demo.wrong_piece}" and fb.expected_text == "应扫: 运单 17612345675 的货物"
    assert fb.continue_text == "点击任意处或扫下一个继续"
    assert fb.auto_dismiss_s is None
    assert p.view().detail.state == "AT_SOURCE" and p.view().detail.pieces_title == "货物 0/3"
    serial = fb.serial
    run(p.scan(demo.wrong_piece))
    assert p.view().feedback.serial == serial + 1  # each answer beeps once
    p.dismiss_feedback()
    assert p.view().feedback is None


def test_switch_language_changes_every_text_but_keeps_both_in_the_headline(demo):
    p = logged_in(demo)
    p.switch_language()
    vm = p.view()
    assert (vm.lang, vm.tasks.title, vm.status.reach_text, vm.status.lang_button) == ("en", "My tasks (3)", "Online", "中文")
    assert vm.tasks.rows[0].overdue_text == "OVERDUE"
    p.open_task("T-1042")
    run(p.accept())
    run(p.scan("B-01-04-1"))
    assert p.view().feedback.headline == "错误 / Wrong"
    fb = p.view().feedback
    assert (fb.message, fb.expected_text) == ("Wrong location: not this task's source", "Expected: location A-03-12-2")
    p.switch_language()
    assert p.view().lang == "zh"


def test_cancel_mid_way_leaves_the_detail_with_a_notice(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    run(p.accept())
    run(p.scan(demo.source))
    run(demo.cancel_active())
    vm = p.view()
    assert vm.screen == "tasks" and vm.detail is None
    assert "T-1042" not in [r.task_id for r in vm.tasks.rows]
    assert vm.notice.text.splitlines() == ["任务 T-1042 已被取消", "查验已改期"]  # a reason code, translated here
    p.dismiss_notice()
    assert p.view().notice is None


def test_exception_reason_moves_task_to_exception(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    run(p.accept())
    p.open_exception()
    vm = p.view()
    assert vm.screen == "exception" and [c for c, _ in vm.exception.reasons][0] == "piece_missing"
    assert run(p.report_exception("damaged")).ok
    assert p.view().screen == "detail" and p.view().detail.state_text == "异常"
    with pytest.raises(ValueError):
        run(p.report_exception("lost_my_lunch"))


def test_other_without_a_note_is_refused_by_the_board(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    run(p.accept())
    p.open_exception()
    result = run(p.report_exception("other", "  "))
    vm = p.view()
    assert not result.ok and vm.screen == "exception" and vm.feedback is None
    assert vm.notice.text.startswith("请选择异常原因")


def test_opening_an_accepted_task_makes_scans_apply_to_it(demo):
    p = logged_in(demo)
    for tid in ("T-1042", "T-1045"):
        p.open_task(tid)
        run(p.accept())
    p.open_task("T-1042")
    assert demo.board.active.task_id == "T-1042"
    assert run(p.scan(demo.source)).ok


def test_logout_returns_to_login_only_after_the_confirm(demo):
    p = logged_in(demo)
    p.ask_logout()
    vm = p.view()
    assert vm.screen == "tasks" and (vm.confirm.question, vm.confirm.yes_text, vm.confirm.no_text) == (
        "退出登录？", "退出", "返回")
    p.confirm_no()
    assert p.view().confirm is None and demo.board.driver is not None
    p.ask_logout()
    run(p.confirm_yes())
    vm = p.view()
    assert vm.screen == "login" and vm.status.driver_text == "未登录" and vm.tasks.rows == ()


def test_subscribers_hear_platform_changes_at_the_board_seam():
    board = StubBoard([task("T-1"), task("T-2")])
    p = Presenter(board)
    p.link.waiting = 7
    heard = []
    p.subscribe(heard.append)
    run(p.scan("B1"))
    for d in "1234":
        p.key(d)
    run(p.login())
    assert heard[-1].screen == "tasks" and heard[-1].status.waiting_text == "待上传 7"
    p.open_task("T-2")
    board.withdraw("T-2", "notice_reassigned")
    assert heard[-1].screen == "tasks" and heard[-1].notice.text == "任务 T-2 已改派他人"


def test_pad_keys_badge_letters_and_digits_pin_digits_only():
    p = Presenter(StubBoard())
    with pytest.raises(ValueError):
        p.key("!")
    assert p.view().login.pad == "digits" and p.view().login.pad_toggle_text == "ABC"
    p.toggle_pad()
    p.key("d")
    p.toggle_pad()
    for d in "0001":
        p.key(d)
    assert p.view().login.badge == "D0001"
    p.focus("pin")
    assert p.view().login.pad == "digits"
    p.toggle_pad()  # the PIN has no letter pad
    assert p.view().login.pad == "digits"
    p.key("A")
    assert p.view().login.pin_mask == "" and p.view().login.message == "密码只有数字"
    p.key("4")
    p.backspace()
    assert p.view().login.pin_mask == ""


def test_report_exception_waits_for_the_confirm(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    run(p.accept())
    p.open_exception()
    p.choose_reason("damaged")
    assert p.view().confirm.question == "报告异常：货物破损？" and demo.board.task("T-1042").state == "ACCEPTED"
    p.confirm_no()
    assert demo.board.task("T-1042").state == "ACCEPTED" and p.view().screen == "exception"
    p.choose_reason("other")
    p.set_note("forklift blocked")
    run(p.confirm_yes())
    assert demo.board.task("T-1042").state == "EXCEPTION" and p.view().screen == "detail"


def test_leaving_the_exception_dialog_with_a_typed_note_asks_first(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    run(p.accept())
    p.open_exception()
    p.back()
    assert p.view().screen == "detail" and p.view().confirm is None  # nothing typed: no question
    p.open_exception()
    p.set_note("pallet leaning")
    p.back()
    assert p.view().screen == "exception" and p.view().confirm.question == "放弃已输入的说明？"
    run(p.confirm_yes())
    assert p.view().screen == "detail" and p.view().confirm is None


def test_after_pickup_the_destination_is_the_big_text(demo):
    p = logged_in(demo)
    p.open_task("T-1042")
    d = p.view().detail
    assert (d.target, d.other) == ("A-03-12-2", "BAY-07") and d.target_label == "前往取货位"
    run(p.accept())
    run(p.scan(demo.source))
    for label in demo.pieces:
        run(p.scan(label))
    d = p.view().detail
    assert (d.state, d.target, d.other, d.target_label) == ("PICKED", "BAY-07", "A-03-12-2", "前往目的地")
    run(p.scan(demo.destination))
    d = p.view().detail
    assert d.target == "BAY-07" and d.next_text != d.complete_text  # "任务完成" is not said twice


def test_one_connectivity_state_for_bar_and_login(demo):
    """Broker up, platform silent: the bar says so (not "online"), and the login screen agrees."""
    p = demo.presenter
    assert p.view().status.reach == "online" and p.view().status.contact_text == "平台 刚刚"
    demo.platform.silent = True
    run(p.scan(demo.badge))
    for d in demo.pin:
        p.key(d)
    result = run(p.login())
    vm = p.view()
    assert not result.ok and result.code == "login_unknown_offline"
    assert (vm.status.reach, vm.status.reach_text) == ("platform_silent", "平台无响应")
    assert vm.login.hint == "平台无响应：仅本机登录过的工牌可用"
    assert vm.login.message == "平台无响应：该工牌未在本机登录过"  # the bar's words, not "network down"
    demo.clock.advance(seconds=125)
    assert p.view().status.contact_text == "平台 2分钟前"
    p.link.set_broker(False)
    vm = p.view()
    assert (vm.status.reach_text, vm.login.hint) == ("离线", "离线：仅本机登录过的工牌可用")
    p.link.set_broker(True)  # a fresh link: no longer claimed silent until a request fails again
    demo.platform.silent = False
    for d in demo.pin:
        p.key(d)
    assert run(p.login()).ok and p.view().status.reach == "online" and p.view().status.contact_text == "平台 刚刚"


def test_unknown_platform_reason_shows_the_platforms_words_marked_as_such(demo):
    from pda_app.i18n import platform_text

    assert platform_text("customs_released: AWB 17612345675", "zh") == "海关已放行: AWB 17612345675"
    assert platform_text("customs_released", "en") == "Released by customs"
    assert platform_text("truck late", "zh") == "平台原文：truck late"
    assert platform_text("truck late", "en") == "Platform says: truck late"


def test_an_answer_or_a_key_redraws_without_reading_the_board_again():
    board = StubBoard([task("T-1"), task("T-2")])
    reads = []
    tasks = board.tasks
    board.tasks = lambda: reads.append(1) or tasks()
    p = Presenter(board)
    run(p.scan("B1"))
    for d in "1234":
        p.key(d)
    run(p.login())
    p.open_task("T-1")
    run(p.accept())
    before = len(reads)
    p.dismiss_notice()
    p.switch_language()  # the language changes the words: one read
    p.view()
    assert len(reads) == before + 1
    run(p.scan("A-01-03"))  # the board changed: one more read for the answer and the new state
    after_scan = len(reads)
    p.dismiss_feedback()
    p.view()
    assert len(reads) == after_scan and after_scan <= before + 2
