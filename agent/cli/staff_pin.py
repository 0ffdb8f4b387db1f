"""`portedge staff-pin --badge BADGE`: print a `[[console.staff]]` entry for a gate clerk, with
the PIN hashed (scrypt, a fresh salt) as the console checks it. The PIN is read without echo
(or from standard input when it is not a terminal) and never printed or stored in clear.
"""

from __future__ import annotations

import getpass
import sys


def add_arguments(parser) -> None:
    parser.add_argument("--badge", required=True, help="the clerk's badge number")
    parser.add_argument("--name", default="", help="the name the console shows")


def run(args) -> int:
    from pydantic import ValidationError

    from agent.config.model import StaffMember
    from agent.console.sessions import make_pin_hash

    pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not 4 <= len(pin) <= 32 or not pin.isdigit():
        print("error: a PIN is 4 to 32 digits", file=sys.stderr)
        return 2
    try:
        member = StaffMember(badge=args.badge, name=args.name, pin_hash=make_pin_hash(args.badge, pin))
    except ValueError as err:
        why = err.errors()[0]["msg"] if isinstance(err, ValidationError) else err
        print(f"error: --badge: {why}", file=sys.stderr)
        return 2
    print("[[console.staff]]")
    print(f'badge = "{member.badge}"')
    if member.name:
        print(f'name = "{member.name}"')
    print(f'pin_hash = "{member.pin_hash}"')
    return 0
