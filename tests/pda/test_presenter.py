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
    assert run(p.accept()).ok and p.view().feedback.headline == "正确 / Right"
    assert run(p.scan(demo.source)).ok
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
    assert fb.message.splitlines() == ["不是本任务的货物", demo.wrong_piece]
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
    assert (vm.lang, vm.tasks.title, vm.status.online_text, vm.status.lang_button) == ("en", "My tasks (3)", "Online", "中文")
    assert vm.tasks.rows[0].overdue_text == "OVERDUE"
    p.open_task("T-1042")
    run(p.accept())
    assert p.view().feedback.headline == "正确 / Right"
    assert p.view().feedback.message == "Task accepted: go to the source location"
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
    assert vm.notice.text.splitlines() == ["任务 T-1042 已被取消", "inspection moved"]
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
    assert not result.ok and p.view().screen == "exception" and p.view().feedback.message.startswith("请选择异常原因")


def test_opening_an_accepted_task_makes_scans_apply_to_it(demo):
    p = logged_in(demo)
    for tid in ("T-1042", "T-1045"):
        p.open_task(tid)
        run(p.accept())
    p.open_task("T-1042")
    assert demo.board.active.task_id == "T-1042"
    assert run(p.scan(demo.source)).ok


def test_logout_returns_to_login(demo):
    p = logged_in(demo)
    run(p.logout())
    vm = p.view()
    assert vm.screen == "login" and vm.status.driver_text == "未登录" and vm.tasks.rows == ()


def test_subscribers_hear_platform_changes_at_the_board_seam():
    board = StubBoard([task("T-1"), task("T-2")])
    p = Presenter(board, waiting=lambda: 7)
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


def test_pad_keys_are_digits_only():
    p = Presenter(StubBoard())
    with pytest.raises(ValueError):
        p.key("x")
    p.key("4")
    p.backspace()
    assert p.view().login.badge == ""
