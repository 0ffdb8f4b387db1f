"""The forklift task board: tasks from the platform, the driver's scans against them, the
driver's session. Pure and persistent; usable without Kivy (the PDA app drives it through a
presenter). See `agent.tasks.board` for the public API.

The names below load on first use (PEP 562): a lane's booth console needs only
`agent.tasks.session`'s PIN check, and importing the board would bring GS1 (biip, ~15 MB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import names_on_first_use

#: name -> the module under agent.tasks that holds it
_HOME = {
    "Board": "board", "MESSAGES": "messages", "ScanRules": "scans", "read_piece": "scans",
    "TABLE": "table", "Ev": "table", "State": "table", "IllegalTransition": "table",
    "BoardChange": "views", "DriverView": "views", "LoginResult": "views", "Notice": "views",
    "ScanResult": "views", "TaskView": "views",
}

__all__ = [
    "Board", "MESSAGES", "ScanRules", "read_piece", "TABLE", "Ev", "State", "IllegalTransition",
    "BoardChange", "DriverView", "LoginResult", "Notice", "ScanResult", "TaskView",
]
assert set(__all__) == set(_HOME)

if TYPE_CHECKING:
    from agent.tasks.board import Board
    from agent.tasks.messages import MESSAGES
    from agent.tasks.scans import ScanRules, read_piece
    from agent.tasks.table import TABLE, Ev, IllegalTransition, State
    from agent.tasks.views import BoardChange, DriverView, LoginResult, Notice, ScanResult, TaskView


__getattr__ = names_on_first_use(__name__, _HOME)
