"""GS1 logistics labels: SSCC (AI 00) and the AIs printed with it on a pallet or piece label.

Parsing and the SSCC's GS1 mod-10 check are `biip`'s. This module adds what a scan at the
warehouse needs: the AIM prefix (]C1 GS1-128, ]d2 GS1 DataMatrix, ]Q3 GS1 QR) and GS (0x1D)
separators are accepted, a bare 18-digit SSCC is recognised as one (biip would otherwise read
it as a chain of AIs), and the answer is one `Checked` with the AIs in `parts`.
It must never accept an SSCC whose check digit is wrong.
"""

from __future__ import annotations

import biip
from biip.gs1_messages import GS1Message
from biip.sscc import Sscc

from agent.identifiers.result import Checked

GS = "\x1d"
#: AIM symbology identifiers that carry GS1 element strings
GS1_AIM = ("]C1", "]d2", "]Q3", "]e0", "]J1")
#: AIs a label usually carries, by name (others are kept by number in `parts`)
NAMES = {
    "00": "sscc", "01": "gtin", "02": "content_gtin", "37": "count",
    "400": "order", "401": "consignment", "402": "shipment",
}
_CONFIG = biip.ParseConfig(separator_chars=(GS,))


def _strip(text: str) -> tuple[str, str | None]:
    text = text.strip().strip(GS)
    for aim in GS1_AIM:
        if text.startswith(aim):
            return text[len(aim):].lstrip(GS), aim
    return text, None


def parse_gs1(text: str) -> Checked:
    """A GS1 element string -> `Checked(value="(00)...(37)12", parts={"00": ..., "37": "12"})`.

    `parts` is keyed by AI; a 330n weight also gives `weight_kg` as a decimal string.
    """
    data, aim = _strip(text)
    if not data:
        return Checked.bad("empty label")
    if text.strip().startswith("]") and aim is None:
        return Checked.bad(f"symbology {text.strip()[:3]!r} does not carry GS1 data")
    if aim is None and len(data) == 18 and data.isascii() and data.isdigit():
        return _bare_sscc(data)
    try:
        message = GS1Message.parse(data, config=_CONFIG)
    except biip.ParseError as err:
        return Checked.bad(f"not a GS1 label: {err}")
    parts: dict[str, str] = {}
    for element in message.element_strings:
        ai = element.ai.ai
        if ai in parts:
            return Checked.bad(f"AI ({ai}) appears twice")
        if element.sscc_error or element.gtin_error:
            return Checked.bad(element.sscc_error or element.gtin_error or "bad check digit")
        parts[ai] = element.value
        if ai.startswith("330") and element.decimal is not None:
            parts["weight_kg"] = str(element.decimal)
    hri = "".join(f"({ai}){value}" for ai, value in parts.items() if ai[0].isdigit())
    return Checked.good(hri, **parts)


def _bare_sscc(data: str) -> Checked:
    try:
        sscc = Sscc.parse(data)
    except biip.ParseError as err:
        return Checked.bad(str(err))
    return Checked.good(f"(00){sscc.value}", **{"00": sscc.value})


def check_sscc(text: str) -> Checked:
    """A scanned piece or pallet label -> `Checked(value=<18-digit SSCC>, parts=<all AIs>)`."""
    label = parse_gs1(text)
    if not label.ok:
        return label
    sscc = label.parts.get("00")
    if sscc is None:
        return Checked.bad("label has no SSCC (AI 00)")
    return Checked.good(sscc, **label.parts)
