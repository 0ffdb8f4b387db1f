"""Every word the driver reads, in Chinese (the default) and English. Pure data, no Kivy.

A missing key is a programming error and raises KeyError at once (tests walk every key in
both languages), so a screen never shows a raw key to a driver.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

TEXT: dict[str, dict[Lang, str]] = {
    "app.title": {"zh": "叉车任务", "en": "Forklift tasks"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "status.online": {"zh": "在线", "en": "Online"},
    "status.offline": {"zh": "离线", "en": "Offline"},
    "status.waiting": {"zh": "待上传 {n}", "en": "{n} to upload"},
    "status.no_driver": {"zh": "未登录", "en": "Not logged in"},
    "login.title": {"zh": "司机登录", "en": "Driver login"},
    "login.badge": {"zh": "工牌", "en": "Badge"},
    "login.pin": {"zh": "密码", "en": "PIN"},
    "login.hint": {"zh": "扫描工牌，然后输入密码", "en": "Scan your badge, then enter your PIN"},
    "login.ok": {"zh": "登录", "en": "Log in"},
    "login.clear": {"zh": "清除", "en": "Clear"},
    "login.busy": {"zh": "正在验证…", "en": "Checking…"},
    "login.need_badge": {"zh": "请先扫描工牌", "en": "Scan your badge first"},
    "login.need_pin": {"zh": "密码至少 4 位", "en": "PIN needs at least 4 digits"},
    "login.failed": {"zh": "登录失败：{reason}", "en": "Login failed: {reason}"},
    "logout": {"zh": "退出", "en": "Log out"},
    "list.title": {"zh": "我的任务 ({n})", "en": "My tasks ({n})"},
    "list.empty": {"zh": "暂无任务", "en": "No tasks"},
    "list.overdue": {"zh": "已超时", "en": "OVERDUE"},
    "list.due": {"zh": "截止 {t}", "en": "Due {t}"},
    "list.pieces": {"zh": "{n} 件", "en": "{n} pcs"},
    "detail.back": {"zh": "返回", "en": "Back"},
    "detail.from": {"zh": "取货位", "en": "From"},
    "detail.to": {"zh": "送至", "en": "To"},
    "detail.pieces": {"zh": "货物 {picked}/{total}", "en": "Pieces {picked}/{total}"},
    "detail.piece_n": {"zh": "第 {n} 件", "en": "Piece {n}"},
    "detail.due": {"zh": "截止 {t}", "en": "Due by {t}"},
    "detail.accept": {"zh": "接受任务", "en": "Accept task"},
    "detail.exception": {"zh": "报告异常", "en": "Report problem"},
    "detail.awb": {"zh": "运单 {awb}", "en": "AWB {awb}"},
    "detail.customs": {"zh": "海关 {ref}", "en": "Customs {ref}"},
    "next.accept": {"zh": "新任务：接受后去取货位", "en": "New: accept, then go to source"},
    "next.source": {"zh": "请扫描取货位标签", "en": "Scan the location label"},
    "next.piece": {"zh": "请扫描货物标签", "en": "Scan a piece label"},
    "next.destination": {"zh": "请扫描目的地标签", "en": "Scan the destination label"},
    "next.done": {"zh": "任务完成", "en": "Task complete"},
    "next.exception": {"zh": "已报告异常", "en": "Problem reported"},
    "next.closed": {"zh": "任务已关闭", "en": "Task closed"},
    "feedback.right": {"zh": "正确", "en": "Right"},
    "feedback.wrong": {"zh": "错误", "en": "Wrong"},
    "exception.title": {"zh": "报告异常", "en": "Report a problem"},
    "exception.cancel": {"zh": "取消", "en": "Cancel"},
    "reason.piece_missing": {"zh": "货物缺失", "en": "Piece missing"},
    "reason.damaged": {"zh": "货物破损", "en": "Damaged"},
    "reason.wrong_location": {"zh": "库位错误", "en": "Wrong location"},
    "reason.count_mismatch": {"zh": "件数不符", "en": "Count mismatch"},
    "reason.other": {"zh": "其他", "en": "Other"},
    "kind.TO_INSPECTION": {"zh": "送检", "en": "To inspection"},
    "kind.RETURN": {"zh": "回库", "en": "Return"},
    "kind.RELOCATE": {"zh": "移库", "en": "Relocate"},
    "kind.DELIVER": {"zh": "交付", "en": "Deliver"},
    "state.ASSIGNED": {"zh": "待接受", "en": "Assigned"},
    "state.ACCEPTED": {"zh": "已接受", "en": "Accepted"},
    "state.AT_SOURCE": {"zh": "已到取货位", "en": "At source"},
    "state.PICKED": {"zh": "已取货", "en": "Picked"},
    "state.DELIVERED": {"zh": "已送达", "en": "Delivered"},
    "state.COMPLETED": {"zh": "已完成", "en": "Completed"},
    "state.EXCEPTION": {"zh": "异常", "en": "Exception"},
    "state.CANCELLED": {"zh": "已取消", "en": "Cancelled"},
    "state.REASSIGNED": {"zh": "已改派", "en": "Reassigned"},
    "notice.cancelled": {"zh": "任务 {task} 已被取消", "en": "Task {task} was cancelled"},
    "notice.reassigned": {"zh": "任务 {task} 已改派他人", "en": "Task {task} was given to another driver"},
    "notice.assigned": {"zh": "新任务 {task}", "en": "New task {task}"},
    "notice.ok": {"zh": "知道了", "en": "OK"},
    "scan.not_logged_in": {"zh": "请先登录", "en": "Log in first"},
}


def t(key: str, lang: Lang, **values: object) -> str:
    """The text for `key` in `lang`, with `{name}` fields filled from `values`."""
    return TEXT[key][lang].format(**values)


def both(key: str, **values: object) -> str:
    """Chinese and English together ("正确 / Right"): for what must be understood at a glance
    whichever language is chosen."""
    return f"{t(key, 'zh', **values)} / {t(key, 'en', **values)}"
