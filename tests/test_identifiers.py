"""Identifier parsers: every published vector, the ways they go wrong, and normalisation."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent.identifiers import (
    PROVINCES,
    Checked,
    LocationChecker,
    PlateChecker,
    check_awb,
    check_container,
    check_location,
    check_plate,
    check_sscc,
    format_awb,
    parse_gs1,
)
from agent.identifiers.container import check_digit

GS = "\x1d"
SSCC = "376104250021234569"
GTIN = "07612345678900"

# --- ISO 6346 -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["CSQU3054383", "TCNU7200794", "TOLU4734787", "GYOU4047990"])
def test_published_container_numbers_are_valid(number):
    result = check_container(number)
    assert result.ok and result.value == number and result.reason is None
    assert result.parts["owner"] == number[:3] and result.parts["check"] == number[-1]


@pytest.mark.parametrize("raw", ["csqu3054383", " CSQU 305438 3 ", "CSQU-305438-3", "csqu-3054383\n"])
def test_container_number_is_normalised(raw):
    assert check_container(raw).value == "CSQU3054383"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("CSQU3054384", "check digit is 4, expected 3"),
        ("CSQU305438", "11 characters, got 10"),
        ("CSQU30543833", "11 characters, got 12"),
        ("", "got 0"),
        ("C5QU3054383", "owner code"),
        ("CSQX3054383", "category 'X'"),
        ("CSQU30543B3", "7 digits"),
        ("ÇSQU3054383", "owner code"),
    ],
)
def test_bad_container_numbers_say_why(raw, says):
    result = check_container(raw)
    assert not result.ok and result.value is None and not result
    assert says in result.reason


_owner = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
_serial = st.text(alphabet="0123456789", min_size=6, max_size=6)


@settings(deadline=None)  # a busy shared machine must not fail a property
@given(owner=_owner, category=st.sampled_from("UJZ"), serial=_serial)
def test_every_well_formed_container_number_passes(owner, category, serial):
    body = owner + category + serial
    assert check_container(body + check_digit(body)).value == body + check_digit(body)


def _remainder(number: str) -> int:
    """ISO 6346 weighted sum mod 11, written out independently of stdnum as an oracle."""
    letters = [n for n in range(10, 39) if n % 11][:26]
    values = [letters[ord(c) - 65] if c.isalpha() else int(c) for c in number[:10]]
    return sum(v << i for i, v in enumerate(values)) % 11


@settings(deadline=None)  # a busy shared machine must not fail a property
@given(owner=_owner, category=st.sampled_from("UJZ"), serial=_serial,
       position=st.integers(4, 10), delta=st.integers(1, 9))
def test_changing_one_digit_fails(owner, category, serial, position, delta):
    body = owner + category + serial
    good = body + check_digit(body)
    assert check_digit(body) == str(_remainder(body) % 10)
    altered = good[:position] + str((int(good[position]) + delta) % 10) + good[position + 1:]
    # ISO 6346 folds remainder 10 onto check digit 0 (owners are told not to issue such
    # serials), so only then can a one-digit change go unnoticed
    assume(position == 10 or 10 not in (_remainder(good), _remainder(altered)))
    result = check_container(altered)
    assert not result.ok and "check digit" in result.reason


# --- IATA air waybill ---------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("176-12345675", "17612345675"), ("020-81140743", "02081140743"),
                                            ("176 1234 5675", "17612345675"), ("17612345675", "17612345675")])
def test_published_awbs_are_valid_and_normalised(raw, value):
    result = check_awb(raw)
    assert result.value == value
    assert result.parts["prefix"] == value[:3]


def test_awb_formatting():
    assert format_awb("17612345675") == "176-12345675"
    assert format_awb("020 8114074 3") == "020-81140743"
    with pytest.raises(ValueError, match="check digit"):
        format_awb("17612345670")


@pytest.mark.parametrize(("raw", "says"), [("176-12345670", "expected 5"), ("176-1234567", "got 10"),
                                           ("176-123456750", "got 12"), ("176-1234567X", "digits"),
                                           ("", "got 0")])
def test_bad_awbs_say_why(raw, says):
    result = check_awb(raw)
    assert not result.ok and says in result.reason


@settings(deadline=None)  # a busy shared machine must not fail a property
@given(prefix=st.integers(0, 999), serial=st.integers(0, 9_999_999), wrong=st.integers(1, 6))
def test_awb_check_digit_is_serial_mod_7(prefix, serial, wrong):
    good = f"{prefix:03d}{serial:07d}{serial % 7}"
    bad = f"{prefix:03d}{serial:07d}{(serial % 7 + wrong) % 7}"
    assert check_awb(good).ok
    assert not check_awb(bad).ok


# --- GS1 labels -----------------------------------------------------------------------------


def test_full_gs1_128_pallet_label():
    raw = f"]C100{SSCC}02{GTIN}3712{GS}400PO-1234{GS}3302012345"
    result = check_sscc(raw)
    assert result.value == SSCC
    assert result.parts["02"] == GTIN
    assert result.parts["37"] == "12"
    assert result.parts["400"] == "PO-1234"
    assert result.parts["weight_kg"] == "123.45"


@pytest.mark.parametrize("raw", [f"]C100{SSCC}", f"]d2{GS}00{SSCC}", f"]Q300{SSCC}", f"00{SSCC}", SSCC,
                                 f"  {SSCC}\r\n"])
def test_sscc_in_every_spelling(raw):
    assert check_sscc(raw).value == SSCC


def test_consignment_and_shipment_ais():
    result = parse_gs1(f"]C100{SSCC}401CN-ABC{GS}40212345678901234560")
    assert result.value == f"(00){SSCC}(401)CN-ABC(402)12345678901234560"
    assert result.parts["401"] == "CN-ABC"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (SSCC[:-1] + "1", "check digit"),
        (f"]C100{SSCC[:-1]}1", "check digit"),
        (f"01{GTIN}", "no SSCC"),
        ("]C0hello", "does not carry GS1 data"),
        ("hello", "not a GS1 label"),
        ("]C1", "empty"),
        ("", "empty"),
    ],
)
def test_bad_labels_say_why(raw, says):
    result = check_sscc(raw)
    assert not result.ok and says in result.reason


def test_gtin_on_a_label_is_checked():
    assert "check digit" in parse_gs1(f"]C101{GTIN[:-1]}1").reason


# --- Chinese plates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "kind"),
    [
        ("沪A1234挂", "沪A1234挂", "trailer"),
        ("粤B12345", "粤B12345", "ordinary"),
        ("京A·F0236", "京AF0236", "ordinary"),
        ("粤b d12345", "粤BD12345", "new_energy"),
        ("粤BF12345", "粤BF12345", "new_energy"),
        ("沪AD12345", "沪AD12345", "new_energy"),
        ("粤B12345D", "粤B12345D", "new_energy"),
        ("粤Z1234港", "粤Z1234港", "ordinary"),
        ("鲁B1234学", "鲁B1234学", "ordinary"),
    ],
)
def test_valid_plates(raw, value, kind):
    result = check_plate(raw)
    assert result.value == value and result.parts["kind"] == kind


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("沪A12345挂", "does not match"),  # 8 characters with a trailer mark is not a plate
        ("沪A1234O", "I or O"),
        ("沪AI2345", "I or O"),
        ("XA12345", "province"),
        ("沪A123", "7 or 8"),
        ("沪AD1234F", "does not match"),  # new energy: letter at one end only
        ("沪A1234D5", "does not match"),
        ("", "empty"),
    ],
)
def test_invalid_plates(raw, says):
    result = check_plate(raw)
    assert not result.ok and says in result.reason


def test_provinces_list_is_the_31_divisions():
    assert len(PROVINCES) == len(set(PROVINCES)) == 31
    assert check_plate("澳A12345").ok is False  # Macau is a tail character, not a province


def test_plate_pattern_is_configurable():
    # a site that also admits cross-border plates of the form 粤Z + 4 + 港/澳 only
    only_cross_border = PlateChecker(r"^粤Z[A-HJ-NP-Z0-9]{4}[港澳]$")
    assert only_cross_border.check("粤Z1234澳").ok
    assert not only_cross_border.check("粤B12345").ok


# --- warehouse locations --------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["A-03-12-2", "a-03-12-2", "a 3 12 2", "A_03_12_2", " A03-12-2 ", "a/3/12/2"])
def test_location_spellings_normalise(raw):
    result = check_location(raw)
    assert result.value == "A-03-12-2"
    assert result.parts["zone"] == "A" and result.parts["level"] == "2"


@pytest.mark.parametrize("raw", ["A-03-12", "A-03-12-22", "3-03-12-2", "BAY-07", "", "A-003-12-2"])
def test_bad_locations(raw):
    result = check_location(raw)
    assert not result.ok and result.reason


def test_location_pattern_is_configurable():
    bays = LocationChecker(r"^BAY-(?P<bay>\d{1,2})$", format="BAY-{bay:0>2}")
    assert bays.check("bay-7").value == "BAY-07"
    plain = LocationChecker(r"^R\d{3}$")
    assert plain.check(" r101 ").value == "R101"
    assert not plain.check("R10").ok


def test_checked_is_truthy_only_when_valid():
    assert Checked.good("X") and not Checked.bad("no")
    with pytest.raises(TypeError):
        Checked.good("X").parts["a"] = "b"  # parts are read-only
