"""Pure decisions: keys, gaps of every kind, regression sets per safety class, change summaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.trace.errors import (
    InvalidBuildError,
    InvalidControlKeyError,
    InvalidRequirementError,
    InvalidSafetyClassError,
)
from medfleet.trace.model import (
    ChangeAction,
    GapKind,
    Outcome,
    RequirementKind,
    RequirementState,
    TestLevel,
    TraceData,
    TraceScope,
    check_build_id,
    check_control_key,
    check_requirement_key,
    find_gaps,
    summarize_change,
)
from medfleet.trace.regression import SafetyClass, build_regression_set, parse_safety_class


def test_keys_are_normalized_and_checked() -> None:
    assert check_requirement_key(" srs-101 ") == "SRS-101"
    assert check_requirement_key("SYS.REQ_4") == "SYS.REQ_4"
    for bad in ("", "SRS", "101", "SRS-", "SRS 1", "SRS-1;DROP", "S" * 70 + "-1"):
        with pytest.raises(InvalidRequirementError):
            check_requirement_key(bad)
    assert check_control_key("rc-3") == "RC-3"
    for bad in ("RC-0", "RC-", "H-1", "RC-1a"):
        with pytest.raises(InvalidControlKeyError):
            check_control_key(bad)
    assert check_build_id("4.2.0+build.17") == "4.2.0+build.17"
    for bad in ("", "has space", "-x", "a" * 201):
        with pytest.raises(InvalidBuildError):
            check_build_id(bad)
    assert parse_safety_class("b") is SafetyClass.B
    with pytest.raises(InvalidSafetyClassError, match="A, B or C"):
        parse_safety_class("D")


def data(**overrides: object) -> TraceData:
    base: dict[str, object] = {
        "requirements": frozenset({"SRS-1", "SRS-2", "SRS-3"}),
        "controls": frozenset({"RC-1", "RC-2", "RC-3"}),
        "requirement_tests": {
            "SRS-1": frozenset({"t::a"}),
            "SRS-2": frozenset({"t::b", "t::c"}),
            "SRS-9": frozenset({"t::old"}),
        },
        "control_requirements": {
            "RC-1": frozenset({"SRS-1"}),
            "RC-2": frozenset({"SRS-1", "SRS-2"}),
            "RC-3": frozenset({"SRS-9"}),
        },
        "results": {
            "t::a": Outcome.PASSED,
            "t::b": Outcome.FAILED,
            "t::c": Outcome.SKIPPED,
            "t::stray": Outcome.PASSED,
        },
        "build_id": "B2",
        "retired": frozenset({"SRS-9"}),
    }
    base.update(overrides)
    return TraceData(**base)  # type: ignore[arg-type]


def test_every_gap_kind_on_everything() -> None:
    gaps = find_gaps(data())
    assert [(g.kind, g.subject) for g in gaps] == [
        (GapKind.REQUIREMENT_WITHOUT_TEST, "SRS-3"),
        (GapKind.REQUIREMENT_NOT_PASSING, "SRS-2"),
        (GapKind.CONTROL_WITHOUT_REQUIREMENT, "RC-3"),  # its only requirement is retired
        (GapKind.CONTROL_NOT_PASSING, "RC-2"),
        (GapKind.TEST_UNTRACED, "t::stray"),
    ]
    assert "SRS-2 has no passing test on B2 (linked: t::b, t::c)" in gaps[1].message
    assert "SRS-2 without a passing test" in gaps[3].message
    assert gaps[0].as_dict() == {
        "kind": "requirement_without_test",
        "subject": "SRS-3",
        "message": "SRS-3 has no linked test",
    }


def test_scope_limits_the_check_and_adds_the_regression_set() -> None:
    scope = TraceScope(
        requirements=frozenset({"SRS-1", "SRS-9"}),
        controls=frozenset({"RC-1"}),
        tests=frozenset({"t::a", "t::b", "t::never", "t::stray"}),
    )
    gaps = find_gaps(data(), scope)
    assert [(g.kind, g.subject) for g in gaps] == [
        (GapKind.TEST_UNTRACED, "t::stray"),
        (GapKind.REGRESSION_NOT_PASSING, "t::b"),
        (GapKind.REGRESSION_NOT_PASSING, "t::never"),
    ]
    assert "(result failed)" in gaps[1].message
    assert "(no result)" in gaps[2].message


def test_nothing_to_check_is_no_gap() -> None:
    assert find_gaps(data(), TraceScope()) == []


@given(st.dictionaries(st.sampled_from(["t::a", "t::b", "t::c"]), st.sampled_from(Outcome)))
def test_a_requirement_is_verified_exactly_when_a_linked_test_passed(
    results: dict[str, Outcome],
) -> None:
    gaps = find_gaps(data(results=results), TraceScope(requirements=frozenset({"SRS-2"})))
    passed = Outcome.PASSED in (results.get("t::b"), results.get("t::c"))
    assert (gaps == []) is passed


LEVELS = {
    "u::1": TestLevel.UNIT,
    "i::1": TestLevel.INTEGRATION,
    "s::1": TestLevel.SYSTEM,
    "x::1": None,
    "u::linked": TestLevel.UNIT,
    "u::control": TestLevel.UNIT,
}


@pytest.mark.parametrize(
    ("safety_class", "expected"),
    [
        (SafetyClass.A, ["u::control", "u::linked"]),
        (SafetyClass.B, ["i::1", "s::1", "u::control", "u::linked", "x::1"]),
        (SafetyClass.C, sorted(LEVELS)),
    ],
)
def test_regression_set_per_safety_class(safety_class: SafetyClass, expected: list[str]) -> None:
    found = build_regression_set(
        ["SRS-1"],
        ["RC-1"],
        safety_class,
        {"SRS-1": ["u::linked"], "SRS-2": ["u::control"]},
        {"RC-1": ["SRS-2"]},
        LEVELS,
    )
    assert [t.key for t in found.tests] == expected
    reasons = {t.key: t.reasons for t in found.tests}
    assert reasons["u::linked"][0] == "verifies touched requirement SRS-1"
    assert reasons["u::control"][0] == "verifies SRS-2, which implements touched control RC-1"
    if safety_class is SafetyClass.C:
        assert reasons["u::linked"] == (
            "verifies touched requirement SRS-1",
            "class C minimum: every test",
        )
    assert found.keys == frozenset(expected)
    assert found.as_dict()["safety_class"] == safety_class.value


def state(version: int, action: ChangeAction, text: str) -> RequirementState:
    return RequirementState(version, action, RequirementKind.SAFETY, f"T{version}", text, "pump")


def test_summarize_change() -> None:
    added = summarize_change("SRS-1", None, [state(1, ChangeAction.ADDED, "a")])
    assert (added.action, added.version_before, added.version_after, added.text_after) == (
        ChangeAction.ADDED,
        None,
        1,
        "a",
    )
    modified = summarize_change(
        "SRS-1",
        state(1, ChangeAction.ADDED, "a"),
        [state(2, ChangeAction.MODIFIED, "b"), state(3, ChangeAction.MODIFIED, "c")],
    )
    assert (modified.action, modified.version_before, modified.version_after) == (
        ChangeAction.MODIFIED,
        1,
        3,
    )
    assert (modified.text_before, modified.text_after) == ("a", "c")
    retired = summarize_change(
        "SRS-1", state(3, ChangeAction.MODIFIED, "c"), [state(4, ChangeAction.RETIRED, "c")]
    )
    assert retired.as_dict()["action"] == "retired"
    assert (retired.text_before, retired.text_after, retired.title_after) == ("c", None, None)
