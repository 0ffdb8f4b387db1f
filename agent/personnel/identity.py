"""From what a reader delivered to what the lane may know: an `Identity` (key, mask, dates).

The clear card text lives only inside `from_card` for the time of the call: the ID number is
checked (GB 11643 check character, birth date and area code via python-stdnum's `cn.ric`),
hashed under the site key and masked; the name is kept only when the config sends names;
the photo only when the config stores photos.

Never: return, log or keep the clear ID number.
"""

from __future__ import annotations

from datetime import date, timedelta, timezone

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from agent.codecs.sam import CardRead, mask_id
from agent.codecs.wiegand import BadgeFrame
from agent.contract.personnel import DriverRef
from agent.errors import ProtocolError
from agent.personnel.events import Identity
from agent.personnel.privacy import SiteKey, mask_badge

CHINA = timezone(timedelta(hours=8))  # the card's dates are Beijing calendar days


def from_card(card: CardRead, key: SiteKey, *, keep_name: bool = False, keep_photo: bool = False) -> Identity:
    text = card.text
    number = text.id_number.strip().upper()
    problem = ""
    try:
        ric.validate(number)
    except ValidationError as err:
        problem = str(err).rstrip(".").lower()
    try:
        valid_from, valid_until = text.validity()
    except ProtocolError as err:
        problem = problem or str(err)
        valid_from = valid_until = None
    return Identity(
        credential="id_card", person_key=key.person_key("id_card", number), masked=mask_id(number),
        name=text.name if keep_name else None, number_valid=not problem, problem=problem,
        valid_from=valid_from, valid_until=valid_until, long_term=text.long_term,
        photo=card.photo if keep_photo else None,
    )


def from_badge(badge: BadgeFrame, key: SiteKey) -> Identity:
    return Identity(credential="badge", person_key=key.person_key("badge", badge.badge_id),
                    masked=mask_badge(badge.badge_id))


def card_problem(identity: Identity, today: date) -> str:
    """Why this card may not be used today ("" when it may)."""
    if not identity.number_valid:
        return f"ID number not valid: {identity.problem}"
    if identity.valid_from is not None and today < identity.valid_from:
        return "card not yet valid"
    if identity.valid_until is not None and not identity.long_term and today > identity.valid_until:
        return "card expired"
    return ""


def driver_ref(card: CardRead, key: SiteKey, today: date) -> tuple[DriverRef, str]:
    """A truck driver's card as a truck lane may send it, and why it may not be used ("")."""
    who = from_card(card, key)
    until = "long_term" if who.long_term else (who.valid_until.isoformat() if who.valid_until else None)
    return DriverRef(person_key=who.person_key, masked=who.masked, card_valid_until=until), card_problem(who, today)
