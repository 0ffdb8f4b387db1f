"""Every word the driver reads, in Chinese (the default) and English. Pure data, no Kivy.

A missing key is a programming error and raises KeyError at once (tests walk every key in
both languages), so a screen never shows a raw key to a driver.
"""

from __future__ import annotations

import textwrap
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
NOTE_MAX, NOTE_LINE = 90, 34  # characters of a platform note shown, and per line

TEXT: dict[str, dict[Lang, str]] = {
    "app.title": {"zh": "叉车任务", "en": "Forklift tasks"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "status.online": {"zh": "在线", "en": "Online"},
    "status.offline": {"zh": "离线", "en": "Offline"},
    "status.platform_silent": {"zh": "平台无响应", "en": "No platform"},
    "status.waiting": {"zh": "待上传 {n}", "en": "{n} to upload"},
    "status.contact_never": {"zh": "平台未联系", "en": "Platform: never"},
    "status.contact_now": {"zh": "平台 刚刚", "en": "Platform: now"},
    "status.contact_min": {"zh": "平台 {n}分钟前", "en": "Platform {n}m ago"},
    "status.contact_h": {"zh": "平台 {n}小时前", "en": "Platform {n}h ago"},
    "status.no_driver": {"zh": "未登录", "en": "Not logged in"},
    "login.title": {"zh": "司机登录", "en": "Driver login"},
    "login.badge": {"zh": "工牌", "en": "Badge"},
    "login.pin": {"zh": "密码", "en": "PIN"},
    "login.hint": {"zh": "扫描工牌，然后输入密码", "en": "Scan your badge, then enter your PIN"},
    "login.hint_offline": {"zh": "离线：仅本机登录过的工牌可用", "en": "Offline: only badges used on this PDA"},
    "login.hint_silent": {"zh": "平台无响应：仅本机登录过的工牌可用", "en": "No platform: only badges used on this PDA"},
    "login.pad_letters": {"zh": "ABC", "en": "ABC"},
    "login.pad_digits": {"zh": "123", "en": "123"},
    "login.login_unknown_offline": {"zh": "{reach}：该工牌未在本机登录过", "en": "{reach}: this badge never logged in here"},
    "login.login_expired": {"zh": "{reach}：本机离线登录已过期", "en": "{reach}: the offline login has expired"},
    "login.login_locked": {"zh": "{reach}：错误次数过多，需联网登录", "en": "{reach}: too many wrong PINs, log in online"},
    "login.pin_digits": {"zh": "密码只有数字", "en": "The PIN is digits only"},
    "login.ok": {"zh": "登录", "en": "Log in"},
    "login.clear": {"zh": "清除", "en": "Clear"},
    "login.busy": {"zh": "正在验证…", "en": "Checking…"},
    "login.need_badge": {"zh": "请先扫描工牌", "en": "Scan your badge first"},
    "login.need_pin": {"zh": "密码至少 4 位", "en": "PIN needs at least 4 digits"},
    "login.failed": {"zh": "登录失败：{reason}", "en": "Login failed: {reason}"},
    "logout": {"zh": "退出", "en": "Log out"},
    "confirm.logout": {"zh": "退出登录？", "en": "Log out?"},
    "confirm.report": {"zh": "报告异常：{reason}？", "en": "Report a problem: {reason}?"},
    "confirm.discard": {"zh": "放弃已输入的说明？", "en": "Discard the note you typed?"},
    "confirm.yes_logout": {"zh": "退出", "en": "Log out"},
    "confirm.yes_report": {"zh": "报告", "en": "Report"},
    "confirm.yes_discard": {"zh": "放弃", "en": "Discard"},
    "confirm.no": {"zh": "返回", "en": "Go back"},
    "list.title": {"zh": "我的任务 ({n})", "en": "My tasks ({n})"},
    "list.empty": {"zh": "暂无任务", "en": "No tasks"},
    "list.overdue": {"zh": "已超时", "en": "OVERDUE"},
    "list.due": {"zh": "截止 {t}", "en": "Due {t}"},
    "list.pieces": {"zh": "{n} 件", "en": "{n} pcs"},
    "detail.back": {"zh": "返回", "en": "Back"},
    "detail.from": {"zh": "取货位", "en": "From"},
    "detail.to": {"zh": "送至", "en": "To"},
    "detail.go_source": {"zh": "前往取货位", "en": "Go to the source"},
    "detail.go_destination": {"zh": "前往目的地", "en": "Go to the destination"},
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
    "next.confirm": {"zh": "已送达：点下方按钮确认", "en": "Delivered: tap below to confirm"},
    "next.done": {"zh": "任务完成", "en": "Task complete"},
    "detail.complete": {"zh": "确认完成", "en": "Complete task"},
    "next.exception": {"zh": "已报告异常", "en": "Problem reported"},
    "next.closed": {"zh": "任务已关闭", "en": "Task closed"},
    "feedback.right": {"zh": "正确", "en": "Right"},
    "feedback.wrong": {"zh": "错误", "en": "Wrong"},
    "feedback.scanned": {"zh": "扫描", "en": "Scanned"},
    "feedback.expected": {"zh": "应扫", "en": "Expected"},
    "feedback.continue": {"zh": "点击任意处或扫下一个继续", "en": "Tap anywhere or scan again"},
    "expect.source": {"zh": "库位 {loc}", "en": "location {loc}"},
    "expect.destination": {"zh": "目的地 {loc}", "en": "destination {loc}"},
    "expect.awb": {"zh": "运单 {awb} 的货物", "en": "a piece of AWB {awb}"},
    "expect.labels": {"zh": "标签 {labels}", "en": "label {labels}"},
    "expect.complete": {"zh": "点击确认完成", "en": "tap Complete task"},
    "expect.accept": {"zh": "先接受任务", "en": "accept the task first"},
    "expect.choose_task": {"zh": "先选择任务", "en": "choose a task first"},
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
    "notice.platform_text": {"zh": "平台原文：{text}", "en": "Platform says: {text}"},
    "platform.inspection_moved": {"zh": "查验已改期", "en": "Inspection moved"},
    "platform.inspection_cancelled": {"zh": "海关取消查验", "en": "Customs cancelled the inspection"},
    "platform.customs_released": {"zh": "海关已放行", "en": "Released by customs"},
    "platform.priority_changed": {"zh": "优先级已调整", "en": "Priority changed"},
    "platform.shift_ended": {"zh": "班次已结束", "en": "Shift ended"},
    "platform.cargo_not_found": {"zh": "货物未找到", "en": "Cargo not found"},
    "platform.duplicate_task": {"zh": "重复任务", "en": "Duplicate task"},
    "platform.driver_unavailable": {"zh": "司机不可用", "en": "Driver unavailable"},
    "scan.not_logged_in": {"zh": "请先登录", "en": "Log in first"},
}


def t(key: str, lang: Lang, **values: object) -> str:
    """The text for `key` in `lang`, with `{name}` fields filled from `values`."""
    return TEXT[key][lang].format(**values)


def platform_text(note: str, lang: Lang) -> str:
    """A platform note in the driver's language. The platform sends a reason code from
    PLATFORM_REASONS, optionally followed by ": free text". A known code is translated on the
    device; anything else is shown as the platform wrote it, marked as the platform's own words
    in the driver's language (so a driver knows why it is in another language)."""
    code, _, rest = note.partition(":")
    key = f"platform.{code.strip()}"
    if key in TEXT:
        return t(key, lang) + (f": {rest.strip()}" if rest.strip() else "")
    # the platform's own words: broken at spaces here, since Kivy would break them anywhere
    words = textwrap.shorten(note.strip(), width=NOTE_MAX, placeholder=" …")
    return "\n".join(textwrap.wrap(t("notice.platform_text", lang, text=words), width=NOTE_LINE))


#: reason codes the platform may put in a task_cancel note (docs/pda.md lists them)
PLATFORM_REASONS = tuple(k.removeprefix("platform.") for k in TEXT if k.startswith("platform."))


def both(key: str, **values: object) -> str:
    """Chinese and English together ("正确 / Right"): for what must be understood at a glance
    whichever language is chosen."""
    return f"{t(key, 'zh', **values)} / {t(key, 'en', **values)}"
