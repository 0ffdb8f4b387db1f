"""From what a reader delivered to what the lane may know: an `Identity` (key, mask, dates).

The clear card text lives only inside `from_card` for the time of the call: the ID number is
checked (GB 11643 check character, birth date and area code via python-stdnum's `cn.ric`),
hashed under the site key and masked; the name is kept only when the config sends names;
the photo only when the config stores photos.

Never: return, log or keep the clear ID number.
"""

from __future__ import annotations

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from agent.codecs.sam import CardRead, mask_id
from agent.codecs.wiegand import BadgeFrame
from agent.errors import ProtocolError
from agent.personnel.events import Identity
from agent.personnel.privacy import SiteKey, mask_badge


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
