"""The pure SBOM model: support-level words, end-of-support dates, component checks."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.vulns.sbom_model import (
    FDA_WORDING,
    Hash,
    Problem,
    RawComponent,
    SupportLevel,
    assignments_in,
    build_component,
    end_of_support_of,
    support_level_of,
)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("active", SupportLevel.ACTIVE),
        ("actively maintained", SupportLevel.ACTIVE),
        ("Actively-Maintained", SupportLevel.ACTIVE),
        ("limitedSupport", SupportLevel.LIMITED),
        ("security_fixes_only", SupportLevel.LIMITED),
        ("deprecated", SupportLevel.LIMITED),
        ("no longer maintained", SupportLevel.NONE),
        ("endOfSupport", SupportLevel.NONE),
        ("EOL", SupportLevel.NONE),
        ("abandoned", SupportLevel.ABANDONED),
        ("NOASSERTION", SupportLevel.UNKNOWN),
        ("sometimes", None),
        ("", None),
    ],
)
def test_support_level_words(text: str, level: SupportLevel | None) -> None:
    assert support_level_of(text) is level


@pytest.mark.parametrize("level", list(SupportLevel))
def test_each_level_reads_back_from_its_value_and_its_fda_wording(level: SupportLevel) -> None:
    assert support_level_of(level.value) is level
    assert support_level_of(FDA_WORDING[level]) is level


@given(st.text(max_size=60))
def test_any_text_is_a_level_or_none_never_an_error(text: str) -> None:
    assert support_level_of(text) in (*SupportLevel, None)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2027-12-31", date(2027, 12, 31)),
        (" 2027-12-31 ", date(2027, 12, 31)),
        ("2027-12-31T23:59:59Z", date(2027, 12, 31)),
        ("2028-01-01T01:00:00+02:00", date(2027, 12, 31)),  # the UTC day
        ("2027-12-31T10:00:00", date(2027, 12, 31)),
        ("2027-02-30", None),
        ("31.12.2027", None),
        ("soon", None),
    ],
)
def test_end_of_support_dates(text: str, day: date | None) -> None:
    assert end_of_support_of(text) == day


@given(st.dates())
def test_every_iso_date_reads_back(day: date) -> None:
    assert end_of_support_of(day.isoformat()) == day


def test_assignments_are_read_line_by_line() -> None:
    text = "Reviewed 2026-01.\nmedfleet:support-level = limited\n  cle:eos=2027-01-01  \nnot one"
    assert assignments_in(text) == [
        ("medfleet:support-level", "limited"),
        ("cle:eos", "2027-01-01"),
    ]


def raw(**fields: object) -> RawComponent:
    base: dict[str, object] = {"where": "components[0]", "bom_ref": "x", "kind": "library"}
    return RawComponent(**{**base, "name": "openssl", **fields})  # type: ignore[arg-type]


def test_a_good_component_gets_its_keys_and_a_normalised_purl() -> None:
    problems: list[Problem] = []
    component = build_component(
        raw(
            purl="pkg:pypi/PySerial@3.5",
            cpe="cpe:/a:openssl:openssl:1.0.1f",
            hashes=[("SHA-256", "AB" * 32), ("SHA-1", "cd" * 20), ("SHA-256", "ab" * 32)],
            lifecycle=[("CDX:FDA:Level-Of-Support", "abandoned"), ("other", "x")],
        ),
        problems,
    )
    assert problems == []
    assert component is not None
    assert (component.purl, component.package_key) == ("pkg:pypi/pyserial@3.5", "pkg:pypi/pyserial")
    assert component.cpe_key == "openssl:openssl"
    assert component.hashes == (Hash("SHA-1", "cd" * 20), Hash("SHA-256", "ab" * 32))
    assert component.support_level is SupportLevel.ABANDONED
    assert component.matchable


def test_a_component_without_purl_or_cpe_is_kept_but_unmatchable() -> None:
    problems: list[Problem] = []
    component = build_component(raw(), problems)
    assert component is not None
    assert not component.matchable


def test_every_problem_of_a_component_is_reported() -> None:
    problems: list[Problem] = []
    component = build_component(
        raw(
            name=" ",
            version="v" * 201,
            purl="openssl",
            cpe="cpe:2.3:x:openssl:openssl",
            lifecycle=[
                ("medfleet:support-level", "active"),
                ("cdx:fda:level-of-support", "no longer maintained"),
                ("medfleet:end-of-support", "2027-01-01"),
                ("cdx:lifecycle:milestone:endOfSupport", "2027-06-30T00:00:00Z"),
                ("cle:eos", "someday"),
            ],
        ),
        problems,
    )
    assert component is None
    wheres = [p.where for p in problems]
    assert wheres == [
        "components[0].name",
        "components[0].version",
        "components[0].purl",
        "components[0].cpe",
        "components[0].properties[cle:eos]",
        "components[0].properties",
        "components[0].properties",
    ]
    messages = " | ".join(p.message for p in problems)
    assert "conflicting levels of support: active, none" in messages
    assert "conflicting end-of-support dates: 2027-01-01, 2027-06-30" in messages


def test_agreeing_spellings_and_a_format_field_are_one_date() -> None:
    problems: list[Problem] = []
    component = build_component(
        raw(
            lifecycle=[
                ("medfleet:end-of-support", "2027-01-01"),
                ("cdx:fda:end-of-support-date", "2027-01-01"),
            ],
            end_of_support=date(2027, 1, 1),
        ),
        problems,
    )
    assert problems == []
    assert component is not None
    assert component.end_of_support == date(2027, 1, 1)
