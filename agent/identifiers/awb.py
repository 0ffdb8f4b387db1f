"""IATA air waybill numbers: 3-digit airline prefix + 7-digit serial + check digit.

The check digit is the serial modulo 7 (IATA Resolution 600a). Written here because no
maintained library does it. Normalised form: 11 digits; `format_awb` gives "176-12345675".
"""

from __future__ import annotations

from agent.identifiers.result import Checked, squeeze


def awb_check_digit(serial: str) -> str:
    """The check digit of a 7-digit serial."""
    return str(int(serial) % 7)


def check_awb(text: str) -> Checked:
    """`Checked("17612345675")` for "176-1234 5675"; a reason for anything that is not one."""
    number = squeeze(text)
    if number and not (number.isascii() and number.isdigit()):
        return Checked.bad("air waybill number must be digits (spaces and dashes allowed)")
    if len(number) != 11:
        return Checked.bad(f"air waybill number must be 11 digits, got {len(number)}")
    prefix, serial, check = number[:3], number[3:10], number[10]
    expected = awb_check_digit(serial)
    if check != expected:
        return Checked.bad(f"check digit is {check}, expected {expected} (serial mod 7)")
    return Checked.good(number, prefix=prefix, serial=serial, check=check)


def format_awb(number: str) -> str:
    """'17612345675' -> '176-12345675'. Raises ValueError for anything `check_awb` refuses."""
    checked = check_awb(number)
    if not checked.ok or checked.value is None:
        raise ValueError(checked.reason)
    return f"{checked.value[:3]}-{checked.value[3:]}"
