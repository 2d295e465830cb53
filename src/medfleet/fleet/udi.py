"""GS1 Unique Device Identifiers (UDI): parse what a label or a scanner gives, check the GTIN.

Pure: no I/O. A UDI is accepted in three spellings and always normalised to the same ``Udi``:

- the human-readable form with parentheses, ``(01)09506000134352(17)300101(10)LOT7(21)SN1``;
- the unbracketed element string a scanner returns (AIDC data), with GS (``\\x1d``, FNC1)
  after variable-length fields, e.g. ``01095060001343521730010110LOT7\\x1d21SN1``;
- the same with a GS1 symbology identifier in front (``]d2`` GS1 DataMatrix, ``]C1``
  GS1-128, ``]Q3`` GS1 QR code, ...).

The element strings are parsed by ``biip``; this module adds what a device registry needs on
top: the device identifier (01) is required and its check digit must be right, each
application identifier appears once, dates must be dates, every character of the input must be
accounted for (biip's own HRI parser silently stops at characters such as ``-``), and the
messages name the field and the problem. Every refusal is an ``InvalidUdiError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.symbology import GS1Symbology, SymbologyIdentifier

from medfleet.fleet.errors import InvalidUdiError

GS1_DI_ISSUER = "http://hl7.org/fhir/NamingSystem/gs1-di"
"""The FHIR naming system of GS1 device identifiers (``Device.udiCarrier.issuer``)."""

GROUP_SEPARATOR = "\x1d"
MAX_UDI_LENGTH = 300
GTIN_LENGTHS = (8, 12, 13, 14)

AI_DI = "01"
AI_LOT = "10"
AI_MANUFACTURED = "11"
AI_EXPIRES = "17"
AI_SERIAL = "21"
_AI_NAMES = {
    AI_DI: "device identifier",
    AI_LOT: "lot number",
    AI_MANUFACTURED: "manufacturing date",
    AI_EXPIRES: "expiry date",
    AI_SERIAL: "serial number",
}
_DATE_AIS = (AI_MANUFACTURED, AI_EXPIRES)
_HRI_PART = re.compile(r"\((\d{2,4})\)([^()]*)")


@dataclass(frozen=True)
class Udi:
    """A parsed GS1 UDI: the device identifier (GTIN-14) and the production identifiers.

    ``hri`` is the human-readable form (``(01)...(21)...``); ``element_string`` the same data
    as a scanner reads it, with GS separators only where GS1 requires them.
    """

    di: str
    serial: str | None
    lot: str | None
    manufactured_on: date | None
    expires_on: date | None
    hri: str
    element_string: str


def _what(ai: str) -> str:
    name = _AI_NAMES.get(ai)
    return f"({ai})" if name is None else f"({ai}) {name}"


def parse_gtin(value: str) -> str:
    """A GTIN-8, -12, -13 or -14 with a valid check digit, as GTIN-14 (zero-padded).

    Raises:
        InvalidUdiError: not 8, 12, 13 or 14 digits, or the check digit is wrong (the message
            names the expected digit).
    """
    value = value.strip()
    if not (value.isascii() and value.isdigit() and len(value) in GTIN_LENGTHS):
        raise InvalidUdiError(f"GTIN {value!r} is not 8, 12, 13 or 14 digits")
    expected = gs1_standard_check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise InvalidUdiError(f"GTIN {value} has a bad check digit (expected {expected})")
    return value.zfill(14)


def _explain(reason: str, original: str) -> InvalidUdiError:
    """biip's parse error as a message that names the field and the problem."""
    if match := re.match(r"Failed to match '(\d{2,4})(.*)' with GS1 AI \((\d{2,4})\)", reason):
        ai, value = match.group(3), match.group(1)[len(match.group(3)) :] + match.group(2)
        if ai in _DATE_AIS:
            return InvalidUdiError(f"{_what(ai)} {value!r} is not a date (YYMMDD)")
        if ai == AI_DI:
            return InvalidUdiError(f"{_what(ai)} {value!r} is not 14 digits")
        return InvalidUdiError(f"{_what(ai)} {value!r} does not fit GS1's format for this field")
    if match := re.match(r"Failed to parse GS1 AI \((\d{2,4})\) date/time from '(.*)'", reason):
        return InvalidUdiError(f"{_what(match.group(1))} {match.group(2)!r} is not a date (YYMMDD)")
    if match := re.match(r"Failed to get GS1 Application Identifier from '(.*)'", reason):
        return InvalidUdiError(
            f"UDI {original!r}: no GS1 application identifier at {match.group(1)!r} "
            "(an unknown identifier, a character the previous field does not allow, "
            "or a missing GS separator)"
        )
    return InvalidUdiError(f"UDI {original!r} cannot be parsed: {reason}")


def _parse_hri(text: str) -> GS1ElementStrings:
    """``(01)...(21)...``: every field parsed on its own, every character accounted for."""
    elements = GS1ElementStrings()
    position = 0
    while position < len(text):
        match = _HRI_PART.match(text, position)
        if match is None:
            raise InvalidUdiError(
                f"UDI {text!r} is not of the form (AI)value(AI)value...: "
                f"cannot read from {text[position:]!r}"
            )
        ai, value = match.groups()
        if ai == AI_DI and value.isdigit() and len(value) in GTIN_LENGTHS[:-1]:
            value = value.zfill(14)  # a GTIN-8/12/13 is written as 14 digits in (01)
        try:
            element = GS1ElementString.extract(ai + value)
        except ParseError as exc:
            raise _explain(str(exc), text) from None
        if element.ai.ai != ai:
            raise InvalidUdiError(f"({ai}) is not a GS1 application identifier")
        if element.value != value:
            raise InvalidUdiError(
                f"{_what(ai)} {value!r} has characters or a length GS1 does not allow there"
            )
        elements.append(element)
        position = match.end()
    return elements


def _strip_symbology(text: str) -> str:
    """The data after a GS1 symbology identifier such as ``]d2``."""
    try:
        identifier = SymbologyIdentifier.extract(text)
    except ParseError as exc:
        raise InvalidUdiError(f"UDI starts with an unknown symbology identifier: {exc}") from None
    if identifier.gs1_symbology not in GS1Symbology.with_gs1_messages():
        raise InvalidUdiError(
            f"symbology identifier {identifier.value!r} does not carry GS1 element strings "
            "(expected e.g. ]d2, ]C1 or ]Q3)"
        )
    return text[len(identifier.value) :]


def _parse_aidc(data: str, original: str) -> GS1ElementStrings:
    try:
        return GS1Message.parse(data).element_strings
    except ParseError as exc:
        raise _explain(str(exc), original) from None


def _check_fields(elements: GS1ElementStrings) -> None:
    seen: set[str] = set()
    for element in elements:
        ai = element.ai.ai
        if ai in seen:
            raise InvalidUdiError(f"the UDI repeats {_what(ai)}")
        seen.add(ai)
    if AI_DI not in seen:
        raise InvalidUdiError("the UDI has no device identifier (01)")


def _element(elements: GS1ElementStrings, ai: str) -> GS1ElementString | None:
    for element in elements:
        if element.ai.ai == ai:
            return element
    return None


def parse_udi(text: str) -> Udi:
    """Parse a GS1 UDI in HRI, AIDC or symbology-prefixed form.

    Raises:
        InvalidUdiError: empty or too long; not GS1 element strings; an unknown or repeated
            application identifier; no (01); a bad GTIN check digit; a date that is no date;
            characters that belong to no field.
    """
    text = text.strip()
    if not text:
        raise InvalidUdiError("a UDI must not be empty")
    if len(text) > MAX_UDI_LENGTH:
        raise InvalidUdiError(f"a UDI is at most {MAX_UDI_LENGTH} characters")
    if any(not char.isprintable() and char != GROUP_SEPARATOR for char in text):
        raise InvalidUdiError("a UDI may contain no control characters other than GS (FNC1)")
    if text.startswith("("):
        elements = _parse_hri(text)
    else:
        data = _strip_symbology(text) if text.startswith("]") else text
        elements = _parse_aidc(data, text)
    _check_fields(elements)
    di = _element(elements, AI_DI)
    assert di is not None  # checked above
    gtin = parse_gtin(di.value)
    if di.gtin_error is not None:  # a GTIN biip refuses although the check digit is right
        raise InvalidUdiError(f"GTIN {di.value} is not acceptable: {di.gtin_error}")
    normalised = GS1Message.from_element_strings(elements)
    lot = _element(elements, AI_LOT)
    serial = _element(elements, AI_SERIAL)
    made = _element(elements, AI_MANUFACTURED)
    expires = _element(elements, AI_EXPIRES)
    return Udi(
        di=gtin,
        serial=None if serial is None else serial.value,
        lot=None if lot is None else lot.value,
        manufactured_on=None if made is None else made.date,
        expires_on=None if expires is None else expires.date,
        hri=normalised.as_hri(),
        element_string=normalised.value,
    )


def check_udi_fits(udi: Udi, *, serial: str, model: str, model_gtin: str | None) -> None:
    """Refuse a UDI that names another serial number or another model's device identifier.

    Raises:
        InvalidUdiError: (21) differs from ``serial``, or (01) differs from ``model_gtin``.
    """
    if udi.serial is not None and udi.serial != serial:
        raise InvalidUdiError(
            f"the UDI's serial number (21) {udi.serial!r} is not the device's serial {serial!r}"
        )
    if model_gtin is not None and udi.di != model_gtin:
        raise InvalidUdiError(
            f"the UDI's device identifier (01) {udi.di} is not {model}'s GTIN {model_gtin}"
        )
