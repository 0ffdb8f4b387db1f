"""What the driver is told, in Chinese and English, keyed by a stable reason code.

One catalogue for the whole task board so the UI, the evidence and the docs use the same
codes. A code is part of the contract with the PDA app and the platform (it travels as
`ScanEvidence.reason`): add codes, never rename one. Messages must stay short enough for a
glove-operated handheld: one line, no jargon, no internal identifiers.
"""

from __future__ import annotations

#: code -> (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # accepted
    "ok_accepted": ("已接受任务，请前往取货库位", "Task accepted: go to the source location"),
    "ok_at_source": ("库位正确，请扫描货物标签", "Right location: scan the pieces"),
    "ok_piece": ("货物正确", "Right piece"),
    "ok_picked": ("货物已齐，请送往目的地", "All pieces picked: take them to the destination"),
    "ok_delivered": ("已送达，请确认完成", "Delivered: confirm to complete"),
    "ok_completed": ("任务完成", "Task completed"),
    "ok_exception": ("异常已上报", "Exception reported"),
    "ok_selected": ("已切换任务", "Task selected"),
    # rejected scans
    "wrong_location": ("库位错误，不是本任务的取货库位", "Wrong location: not this task's source"),
    "wrong_destination": ("目的地错误", "Wrong destination"),
    "not_a_location": ("请扫描库位标签", "Scan a location label"),
    "wrong_piece": ("不是本任务的货物", "Not a piece of this task"),
    "duplicate_piece": ("该货物已扫描", "Piece already scanned"),
    "bad_check_digit": ("条码校验位错误，请重扫", "Invalid check digit: scan again"),
    "count_exceeded": ("件数已满，多出的货物不属于本任务", "All pieces already picked: this one is extra"),
    "piece_label_needed": ("请扫描单件标签", "Scan the piece label, not the waybill"),
    "unreadable": ("无法识别的条码", "Unrecognised barcode"),
    "scan_source_first": ("请先扫描取货库位", "Scan the source location first"),
    "scan_destination": ("货物已齐，请扫描目的地", "Pieces complete: scan the destination"),
    "pick_all_first": ("请先扫描全部货物", "Scan all pieces first"),
    "already_at_source": ("已在取货库位", "Already at the source location"),
    "accept_first": ("请先接受任务", "Accept the task first"),
    "confirm_complete": ("已送达，请点击完成", "Delivered: tap complete"),
    "no_active_task": ("请先选择任务", "Select a task first"),
    "not_logged_in": ("请先登录", "Log in first"),
    "wrong_state": ("当前状态不能进行此操作", "Not possible in this task state"),
    "unknown_task": ("任务不存在", "No such task"),
    "not_your_task": ("不是分配给你的任务", "This task is for another driver"),
    "bad_reason": ("请选择异常原因", "Choose an exception reason"),
    # notices from the platform
    "notice_cancelled": ("任务已取消", "Task cancelled"),
    "notice_reassigned": ("任务已转派给其他司机", "Task reassigned to another driver"),
    "notice_assigned": ("新任务", "New task"),
    # login
    "login_ok": ("登录成功", "Logged in"),
    "login_ok_offline": ("离线登录成功", "Logged in offline"),
    "login_refused": ("工牌或密码错误", "Wrong badge or PIN"),
    "login_unknown_offline": ("网络不可用，该工牌未在本机验证过", "Offline: this badge was never verified on this PDA"),
    "login_expired": ("网络不可用，离线登录已过期", "Offline: the offline login has expired"),
    "login_locked": ("错误次数过多，请联网登录", "Too many wrong PINs: log in online"),
    "logged_out": ("已退出登录", "Logged out"),
}


def text(code: str) -> tuple[str, str]:
    """(Chinese, English) for a code; an unknown code is shown as itself rather than hidden."""
    return MESSAGES.get(code, (code, code))
