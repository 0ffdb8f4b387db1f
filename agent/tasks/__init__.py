"""The forklift task board: tasks from the platform, the driver's scans against them, the
driver's session. Pure and persistent; usable without Kivy (the PDA app drives it through a
presenter). See `agent.tasks.board` for the public API."""

from agent.tasks.board import Board
from agent.tasks.messages import MESSAGES
from agent.tasks.scans import ScanRules, read_piece
from agent.tasks.table import TABLE, Ev, IllegalTransition
from agent.tasks.views import BoardChange, DriverView, LoginResult, Notice, ScanResult, TaskView

__all__ = [
    "Board", "MESSAGES", "ScanRules", "read_piece", "TABLE", "Ev", "IllegalTransition",
    "BoardChange", "DriverView", "LoginResult", "Notice", "ScanResult", "TaskView",
]
