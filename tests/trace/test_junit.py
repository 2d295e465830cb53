"""Reading JUnit XML: real-world shapes, nested suites, and refusing malformed or hostile files."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.trace.errors import JUnitError
from medfleet.trace.junit import parse_junit
from medfleet.trace.model import Outcome, TestLevel
from tests.trace.samples import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    NESTED,
    PYTEST,
    SUREFIRE,
    case,
    suite,
)


def test_pytest_junitxml() -> None:
    run = parse_junit(PYTEST)
    by_key = {c.key: c for c in run.cases}
    assert list(by_key) == [
        "tests.test_alarm::test_alarm_sounds_within_2s",
        "tests.test_alarm::test_alarm_volume[80-dB]",
        "tests.test_dose::test_dose_limit",
        "tests.test_dose::test_bolus",
        "tests.test_ui::test_banner",
    ]
    first = by_key["tests.test_alarm::test_alarm_sounds_within_2s"]
    assert (first.outcome, first.level, first.requirements) == (
        Outcome.PASSED,
        TestLevel.INTEGRATION,
        ("SRS-1", "SRS-2"),
    )
    volume = by_key["tests.test_alarm::test_alarm_volume[80-dB]"]
    assert volume.outcome is Outcome.FAILED
    assert volume.message == "AssertionError: assert 72 >= 80"
    assert volume.requirements == ("SRS-2",)
    assert by_key["tests.test_dose::test_dose_limit"].outcome is Outcome.ERROR
    assert by_key["tests.test_dose::test_bolus"].message == "needs hardware"
    assert [run.count(o) for o in Outcome] == [2, 1, 1, 1]
    assert run.sha256 == hashlib.sha256(PYTEST).hexdigest()


def test_maven_surefire_bare_testsuite_with_suite_level() -> None:
    run = parse_junit(SUREFIRE)
    assert [(c.key, c.outcome, c.level) for c in run.cases] == [
        ("com.acme.pump.DoseCalculatorTest::computesBolus", Outcome.PASSED, TestLevel.UNIT),
        ("com.acme.pump.DoseCalculatorTest::rejectsNegativeRate", Outcome.FAILED, TestLevel.UNIT),
        ("com.acme.pump.DoseCalculatorTest::limitsDose", Outcome.PASSED, TestLevel.UNIT),
    ]
    assert run.cases[0].requirements == ("SRS-3",)
    assert run.cases[1].message == "expected: <true> but was: <false>"


def test_nested_suites_inherit_level_and_explicit_ids() -> None:
    run = parse_junit(NESTED)
    assert [(c.key, c.level) for c in run.cases] == [
        ("sys::boot", TestLevel.SYSTEM),
        ("SYS-T-1", TestLevel.SYSTEM),
        ("sys.alarms.deep::battery", TestLevel.INTEGRATION),
    ]
    assert run.cases[1].requirements == ("SRS-1",)


def test_namespaced_tags_are_read() -> None:
    data = b'<j:testsuite xmlns:j="urn:x"><j:testcase classname="a" name="b"/></j:testsuite>'
    assert [c.key for c in parse_junit(data).cases] == ["a::b"]


def test_a_duplicate_case_keeps_its_worst_outcome() -> None:
    data = suite(case("x", outcome="failure"), case("x"), case("y"), case("y", outcome="skipped"))
    run = parse_junit(data)
    assert [(c.key, c.outcome) for c in run.cases] == [
        ("t::x", Outcome.FAILED),
        ("t::y", Outcome.PASSED),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "refused: the XML declares a DTD"),
        (EXTERNAL_ENTITY, "refused: the XML declares a DTD"),
        (b'<!DOCTYPE testsuite SYSTEM "http://evil/x.dtd"><testsuite/>', "refused"),
        (b"<testsuite><testcase name='a'>", "not well-formed XML"),
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<html><body/></html>", "root element is <html>"),
        (b"<testsuites/>", "holds no <testcase>"),
        (b"<testsuite><testcase classname='a'/></testsuite>", "has no name"),
        (suite(case("x", requirements="SRS-1, not a key!")), "requirement id"),
        (
            b'<testsuite><properties><property name="level" value="acceptance"/></properties>'
            b'<testcase name="a"/></testsuite>',
            "unknown test level 'acceptance'",
        ),
        (b"\xff\xfe<testsuite/>", "not well-formed"),
    ],
)
def test_bad_files_are_refused_with_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(JUnitError, match=message):
        parse_junit(data)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_either_parse_or_raise_junit_error(data: bytes) -> None:
    try:
        run = parse_junit(data)
    except JUnitError:
        return
    assert run.cases


@given(st.lists(st.sampled_from(["", "failure", "error", "skipped"]), min_size=1, max_size=8))
def test_counts_match_the_cases(outcomes: list[str]) -> None:
    run = parse_junit(suite(*(case(f"c{i}", outcome=o) for i, o in enumerate(outcomes))))
    expected = {"": Outcome.PASSED, "failure": Outcome.FAILED, "error": Outcome.ERROR}
    assert [c.outcome for c in run.cases] == [expected.get(o, Outcome.SKIPPED) for o in outcomes]
    assert sum(run.count(o) for o in Outcome) == len(outcomes)
