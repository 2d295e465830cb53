"""Pure traceability rules: keys, kinds, levels, outcomes, requirement changes, gaps.

No I/O here. ``find_gaps`` decides what is not verified on a build from plain data (which
requirements exist, which links, which results), so the same decision serves the API, the CLI,
the trace matrix and the release gate. The regression set lives in ``trace.regression``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medfleet.trace.errors import (
    InvalidBuildError,
    InvalidControlKeyError,
    InvalidRequirementError,
    InvalidTestError,
)

REQUIREMENT_KEY = re.compile(r"[A-Z][A-Z0-9]*(?:[-_.][A-Z0-9]+)+")
CONTROL_KEY = re.compile(r"RC-[1-9][0-9]*")
BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:/@-]*")
MAX_KEY = 64
MAX_TITLE = 300
MAX_TEXT = 20_000
MAX_ITEM = 200
MAX_TEST_KEY = 500
MAX_BUILD = 200
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class RequirementKind(enum.StrEnum):
    """What a requirement is about."""

    FUNCTIONAL = "functional"
    PERFORMANCE = "performance"
    SAFETY = "safety"
    SECURITY = "security"
    USABILITY = "usability"
    REGULATORY = "regulatory"


class TestLevel(enum.StrEnum):
    """The level a test verifies at (IEC 62304 §5.5 unit, §5.6 integration, §5.7 system)."""

    __test__ = False  # not a pytest test class

    UNIT = "unit"
    INTEGRATION = "integration"
    SYSTEM = "system"


class Outcome(enum.StrEnum):
    """The result of one test case in one verification run."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class ChangeAction(enum.StrEnum):
    """What a requirement version did: add the requirement, modify it, or retire it."""

    ADDED = "added"
    MODIFIED = "modified"
    RETIRED = "retired"


def _choice(enum_type: type[enum.StrEnum], what: str, value: str) -> Any:
    try:
        return enum_type(value.strip().lower())
    except ValueError:
        known = ", ".join(member.value for member in enum_type)
        raise InvalidRequirementError(f"unknown {what} {value!r} (known: {known})") from None


def parse_kind(value: str) -> RequirementKind:
    """A requirement kind by name, case-insensitive.

    Raises:
        InvalidRequirementError: not one of the kinds, listing them.
    """
    kind: RequirementKind = _choice(RequirementKind, "requirement kind", value)
    return kind


def parse_level(value: str) -> TestLevel:
    """A test level by name, case-insensitive.

    Raises:
        InvalidTestError: not unit, integration or system.
    """
    try:
        return TestLevel(value.strip().lower())
    except ValueError:
        raise InvalidTestError(
            f"unknown test level {value!r} (known: unit, integration, system)"
        ) from None


def check_requirement_key(value: str) -> str:
    """A requirement id normalized to upper case, such as ``SRS-101`` or ``SYS.REQ-4``.

    Raises:
        InvalidRequirementError: empty, too long, or not letters then separated parts.
    """
    key = value.strip().upper()
    if len(key) > MAX_KEY or not REQUIREMENT_KEY.fullmatch(key):
        raise InvalidRequirementError(
            f"requirement id {value!r} must look like 'SRS-101': a letter, letters or digits, "
            f"then parts after '-', '_' or '.'; at most {MAX_KEY} characters"
        )
    return key


def check_control_key(value: str) -> str:
    """A risk control key normalized to upper case, such as ``RC-3``.

    Raises:
        InvalidControlKeyError: not ``RC-`` followed by a positive number.
    """
    key = value.strip().upper()
    if not CONTROL_KEY.fullmatch(key):
        raise InvalidControlKeyError(f"risk control key {value!r} must look like 'RC-3'")
    return key


def check_test_key(value: str) -> str:
    """A test id (``classname::name`` or the id a run names): stripped, bounded, printable.

    Raises:
        InvalidTestError: empty, too long, or holding control characters.
    """
    key = value.strip()
    if not key or len(key) > MAX_TEST_KEY or _CONTROL_CHARS.search(key):
        raise InvalidTestError(
            f"test id {value[:80]!r} must be 1-{MAX_TEST_KEY} printable characters"
        )
    return key


def check_build_id(value: str) -> str:
    """A build id such as ``4.2.0+build.17`` or a commit hash.

    Raises:
        InvalidBuildError: empty, too long, or with white space or unusual characters.
    """
    text = value.strip()
    if len(text) > MAX_BUILD or not BUILD_ID.fullmatch(text):
        raise InvalidBuildError(
            f"build id {value[:80]!r} must be 1-{MAX_BUILD} characters of letters, digits "
            "and . _ + : / @ -, starting with a letter or digit"
        )
    return text


def text_field(what: str, value: str, max_length: int, *, required: bool = True) -> str:
    """A stripped text field within ``max_length``; empty only when not ``required``.

    Raises:
        InvalidRequirementError: empty when required, or too long.
    """
    text = value.strip()
    if required and not text:
        raise InvalidRequirementError(f"a requirement needs a {what}")
    if len(text) > max_length:
        raise InvalidRequirementError(f"{what} is longer than {max_length} characters")
    return text


def split_keys(value: str) -> list[str]:
    """Keys from a list such as ``"SRS-1, SRS-2 SRS-3;SRS-4"`` (commas, semicolons, spaces)."""
    return [part for part in re.split(r"[\s,;]+", value) if part]


@dataclass(frozen=True)
class RequirementState:
    """One version of a requirement as a requirement change reports it."""

    version: int
    action: ChangeAction
    kind: RequirementKind
    title: str
    text: str
    software_item: str


@dataclass(frozen=True)
class RequirementChange:
    """What a change request did to one requirement, from before its first version to after."""

    key: str
    action: ChangeAction
    kind: RequirementKind
    version_before: int | None
    version_after: int
    title_before: str | None
    title_after: str | None
    text_before: str | None
    text_after: str | None
    software_item: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``text_after`` is null for a retired requirement."""
        return {
            "key": self.key,
            "action": self.action.value,
            "kind": self.kind.value,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "title_before": self.title_before,
            "title_after": self.title_after,
            "text_before": self.text_before,
            "text_after": self.text_after,
            "software_item": self.software_item,
        }


def summarize_change(
    key: str, before: RequirementState | None, written: Sequence[RequirementState]
) -> RequirementChange:
    """Collapse the versions one change request wrote for one requirement into one change.

    ``before`` is the version preceding the first one written under the change request (None
    when the change request added the requirement). A requirement retired by the change is
    ``retired`` (no text after); otherwise ``added`` when there was no version before, else
    ``modified``.
    """
    last = written[-1]
    if last.action is ChangeAction.RETIRED:
        action = ChangeAction.RETIRED
    elif before is None:
        action = ChangeAction.ADDED
    else:
        action = ChangeAction.MODIFIED
    retired = action is ChangeAction.RETIRED
    return RequirementChange(
        key=key,
        action=action,
        kind=last.kind,
        version_before=before.version if before else None,
        version_after=last.version,
        title_before=before.title if before else None,
        title_after=None if retired else last.title,
        text_before=before.text if before else None,
        text_after=None if retired else last.text,
        software_item=last.software_item,
    )


class GapKind(enum.StrEnum):
    """Why something is not verified on a build."""

    REQUIREMENT_WITHOUT_TEST = "requirement_without_test"
    REQUIREMENT_NOT_PASSING = "requirement_not_passing"
    CONTROL_WITHOUT_REQUIREMENT = "control_without_requirement"
    CONTROL_NOT_PASSING = "control_not_passing"
    TEST_UNTRACED = "test_untraced"
    REGRESSION_NOT_PASSING = "regression_not_passing"


@dataclass(frozen=True)
class Gap:
    """One traceability gap on a build: its kind, the key it concerns, and why."""

    kind: GapKind
    subject: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"kind": self.kind.value, "subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class TraceScope:
    """What to check: requirement keys, risk control keys, and the regression set's tests."""

    requirements: frozenset[str] = frozenset()
    controls: frozenset[str] = frozenset()
    tests: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TraceData:
    """Everything ``find_gaps`` looks at, as plain data.

    ``requirements`` are the current (not retired) requirement keys; ``controls`` the risk
    control keys of the risk file; ``results`` the latest outcome of each test on the build.
    """

    requirements: frozenset[str]
    controls: frozenset[str]
    requirement_tests: Mapping[str, frozenset[str]]
    control_requirements: Mapping[str, frozenset[str]]
    results: Mapping[str, Outcome]
    build_id: str = ""
    retired: frozenset[str] = field(default_factory=frozenset)

    def passing(self, requirement: str) -> bool:
        """True when some test linked to ``requirement`` passed on the build."""
        return any(
            self.results.get(test) is Outcome.PASSED
            for test in self.requirement_tests.get(requirement, ())
        )

    def traced_tests(self) -> frozenset[str]:
        """Tests linked to at least one current requirement."""
        return frozenset(
            test
            for requirement, tests in self.requirement_tests.items()
            if requirement in self.requirements
            for test in tests
        )


def _names(keys: Iterable[str]) -> str:
    return ", ".join(sorted(keys))


def find_gaps(data: TraceData, scope: TraceScope | None = None) -> list[Gap]:
    """Every gap on ``data.build_id`` within ``scope`` (None: every current requirement and
    control, every test in the build's results, no regression set), in ``GapKind`` order,
    then by key.

    Retired and unknown requirements are never gaps; a control whose only requirements are
    retired has no requirement. A test counts as passing only with ``passed`` on this build.
    """
    build = data.build_id or "this build"
    if scope is None:
        requirements, controls = data.requirements, data.controls
        result_tests, regression = frozenset(data.results), frozenset[str]()
    else:
        requirements = scope.requirements & data.requirements
        controls, regression = scope.controls, scope.tests
        result_tests = frozenset(data.results) & scope.tests
    gaps: list[Gap] = []
    for key in requirements:
        if not data.requirement_tests.get(key):
            gaps.append(Gap(GapKind.REQUIREMENT_WITHOUT_TEST, key, f"{key} has no linked test"))
        elif not data.passing(key):
            tests = _names(data.requirement_tests[key])
            gaps.append(
                Gap(
                    GapKind.REQUIREMENT_NOT_PASSING,
                    key,
                    f"{key} has no passing test on {build} (linked: {tests})",
                )
            )
    for key in controls:
        linked = data.control_requirements.get(key, frozenset()) & data.requirements
        if not linked:
            gaps.append(
                Gap(GapKind.CONTROL_WITHOUT_REQUIREMENT, key, f"{key} has no linked requirement")
            )
            continue
        unverified = [r for r in linked if not data.passing(r)]
        if unverified:
            gaps.append(
                Gap(
                    GapKind.CONTROL_NOT_PASSING,
                    key,
                    f"{key} is not verified on {build}: {_names(unverified)} "
                    "without a passing test",
                )
            )
    traced = data.traced_tests()
    for test in result_tests - traced:
        gaps.append(
            Gap(GapKind.TEST_UNTRACED, test, f"test {test} traces to no current requirement")
        )
    for test in regression:
        if data.results.get(test) is not Outcome.PASSED:
            seen = data.results.get(test)
            why = f"result {seen.value}" if seen else "no result"
            gaps.append(
                Gap(
                    GapKind.REGRESSION_NOT_PASSING,
                    test,
                    f"regression test {test} did not pass on {build} ({why})",
                )
            )
    order = list(GapKind)
    return sorted(gaps, key=lambda gap: (order.index(gap.kind), gap.subject))
