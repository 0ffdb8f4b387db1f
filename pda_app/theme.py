"""Colours and sizes for a handheld used with gloves, in a noisy, bright warehouse.

High contrast only: white or yellow on black, black on yellow, white on strong green or red.
Every touch target is at least TOUCH_MIN (far above the 48 dp guideline, for gloves). No Kivy
import: sizes are plain numbers in dp/sp, turned into pixels by the widgets.
"""

BLACK = (0, 0, 0, 1)
WHITE = (1, 1, 1, 1)
YELLOW = (1, 0.84, 0, 1)
GREEN = (0.0, 0.55, 0.15, 1)
RED = (0.8, 0.0, 0.0, 1)
GREY = (0.25, 0.25, 0.25, 1)
DARK = (0.1, 0.1, 0.1, 1)

TOUCH_MIN = 64  # dp; the 48 dp guideline, raised for gloved fingers
BUTTON_H = 80  # dp, the usual big button
STATUS_H = 56  # dp
PAD = 8  # dp

FONT_HUGE = 72  # sp: the source location, readable at arm's length
FONT_XL = 48
FONT_L = 32
FONT_M = 24
FONT_S = 20
