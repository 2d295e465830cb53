"""GS1 UDIs: every spelling parses to the same thing, and every kind of damage is named."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.fleet.errors import InvalidDeviceError, InvalidUdiError
from medfleet.fleet.udi import Udi, check_udi_fits, parse_gtin, parse_udi

GTIN = "09506000134352"
HRI = f"(01){GTIN}(11)260101(17)300131(10)LOT7(21)SN-123"
AIDC = f"01{GTIN}112601011730013110LOT7\x1d21SN-123"
EXPECTED = Udi(
    di=GTIN,
    serial="SN-123",
    lot="LOT7",
    manufactured_on=date(2026, 1, 1),
    expires_on=date(2030, 1, 31),
    hri=HRI,
    element_string=AIDC,
)


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit, computed independently of the code under test."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


@pytest.mark.parametrize(
    "text",
    [
        HRI,
        f"  {HRI}\n",
        AIDC,
        "]d2" + AIDC,  # GS1 DataMatrix
        "]C1" + AIDC,  # GS1-128
        "]Q3" + AIDC,  # GS1 QR code
        # fields in another order, GS after every field: the same UDI
        f"(21)SN-123(10)LOT7(01){GTIN}(11)260101(17)300131",
        f"01{GTIN}\x1d11260101\x1d17300131\x1d10LOT7\x1d21SN-123",
    ],
)
def test_every_spelling_gives_the_same_udi(text: str) -> None:
    udi = parse_udi(text)
    assert (udi.di, udi.serial, udi.lot, udi.manufactured_on, udi.expires_on) == (
        EXPECTED.di,
        EXPECTED.serial,
        EXPECTED.lot,
        EXPECTED.manufactured_on,
        EXPECTED.expires_on,
    )
    assert parse_udi(udi.hri) == udi
    assert parse_udi(udi.element_string) == udi


def test_the_canonical_forms() -> None:
    assert parse_udi(HRI) == EXPECTED


def test_only_the_di_is_required_and_gtin13_is_padded() -> None:
    udi = parse_udi("(01)9506000134352")
    assert udi == Udi(GTIN, None, None, None, None, f"(01){GTIN}", f"01{GTIN}")


def test_a_day_of_00_is_the_last_day_of_the_month() -> None:
    assert parse_udi(f"(01){GTIN}(17)260200").expires_on == date(2026, 2, 28)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("(01)09506000134353", "GTIN 09506000134353 has a bad check digit (expected 2)"),
        ("0109506000134353", "GTIN 09506000134353 has a bad check digit (expected 2)"),
        ("(21)SN1(10)LOT", "no device identifier (01)"),
        ("10LOT7", "no device identifier (01)"),
        (f"(01){GTIN}(17)260231", "(17) expiry date '260231' is not a date (YYMMDD)"),
        (f"(01){GTIN}(11)261301", "(11) manufacturing date '261301' is not a date (YYMMDD)"),
        (f"01{GTIN}17261301", "(17) expiry date '261301' is not a date (YYMMDD)"),
        ("(01)095060(21)A", "(01) device identifier '095060' is not 14 digits"),
        (f"(01){GTIN}(21)A(21)B", "repeats (21) serial number"),
        (f"(01){GTIN}(21)A B", "(21) serial number 'A B' has characters"),
        (f"(01){GTIN}(21){'9' * 21}", "has characters or a length"),
        (f"(01){GTIN} (21)X", "(01) device identifier"),
        ("(0)1", "is not of the form (AI)value"),
        ("garbage", "no GS1 application identifier at 'garbage'"),
        (f"01{GTIN}\x1d21SN 1", "no GS1 application identifier at ' 1'"),
        ("]E0" + AIDC, "symbology identifier ']E0' does not carry GS1 element strings"),
        (f"(01){GTIN}\x07", "control characters"),
        ("+H123PROD1", "no GS1 application identifier"),  # HIBCC is not GS1
        ("(01)" + GTIN + "(21)" + "X" * 300, "at most 300 characters"),
    ],
)
def test_refusals_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidUdiError) as caught:
        parse_udi(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, InvalidDeviceError)


def test_the_udi_must_fit_the_device() -> None:
    udi = parse_udi(HRI)
    check_udi_fits(udi, serial="SN-123", model="IP-100", model_gtin=GTIN)
    check_udi_fits(udi, serial="SN-123", model="IP-100", model_gtin=None)
    check_udi_fits(parse_udi(f"(01){GTIN}"), serial="anything", model="IP-100", model_gtin=GTIN)
    with pytest.raises(InvalidUdiError, match="serial number \\(21\\) 'SN-123' is not the device"):
        check_udi_fits(udi, serial="SN-124", model="IP-100", model_gtin=GTIN)
    with pytest.raises(InvalidUdiError, match=f"\\(01\\) {GTIN} is not IP-200's GTIN"):
        check_udi_fits(udi, serial="SN-123", model="IP-200", model_gtin="00000000000017")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("09506000134352", GTIN), ("9506000134352", GTIN), ("96385074", "00000096385074")],
)
def test_parse_gtin_pads_to_14_digits(value: str, expected: str) -> None:
    assert parse_gtin(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "123", "095060001343521", "0950600013435 2"])
def test_parse_gtin_refuses_what_is_no_gtin(value: str) -> None:
    with pytest.raises(InvalidUdiError, match="is not 8, 12, 13 or 14 digits"):
        parse_gtin(value)


gtin_bodies = st.one_of(
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.text(alphabet="0123456789", min_size=13, max_size=13),
)


@given(body=gtin_bodies, serial=st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True))
def test_every_valid_gtin_parses(body: str, serial: str) -> None:
    gtin = body + str(check_digit(body))
    assert parse_gtin(gtin) == gtin.zfill(14)
    udi = parse_udi(f"(01){gtin}(21){serial}")
    assert (udi.di, udi.serial) == (gtin.zfill(14), serial)
    assert parse_udi(udi.element_string) == udi


@given(body=gtin_bodies, shift=st.integers(min_value=1, max_value=9))
def test_a_changed_check_digit_is_always_refused(body: str, shift: int) -> None:
    wrong = (check_digit(body) + shift) % 10
    gtin = body + str(wrong)
    expected = f"GTIN {gtin} has a bad check digit (expected {check_digit(body)})"
    with pytest.raises(InvalidUdiError) as in_gtin:
        parse_gtin(gtin)
    assert str(in_gtin.value) == expected
    with pytest.raises(InvalidUdiError) as in_udi:
        parse_udi(f"(01){gtin}")
    assert str(in_udi.value) == f"GTIN {gtin.zfill(14)} has a bad check digit " + (
        f"(expected {check_digit(body)})"
    )
