"""The regression set of a change (pure): which tests must pass again, and why each one.

Tests linked to the touched requirements, tests linked to the requirements of the touched risk
controls, and the minimum of the IEC 62304 software safety class: A nothing more, B every
integration- and system-level test (and every test whose level is not recorded, since it might
be one), C every test.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from medfleet.trace.errors import InvalidSafetyClassError
from medfleet.trace.model import TestLevel


class SafetyClass(enum.StrEnum):
    """IEC 62304 software safety class."""

    A = "A"
    B = "B"
    C = "C"


def parse_safety_class(value: str) -> SafetyClass:
    """``A``, ``B`` or ``C`` (case-insensitive).

    Raises:
        InvalidSafetyClassError: anything else.
    """
    try:
        return SafetyClass(value.strip().upper())
    except ValueError:
        raise InvalidSafetyClassError(
            f"software safety class {value!r} must be A, B or C (IEC 62304)"
        ) from None


@dataclass(frozen=True)
class RegressionTest:
    """One test of the regression set with every reason it is in it."""

    key: str
    level: TestLevel | None
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "test": self.key,
            "level": self.level.value if self.level else None,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class RegressionSet:
    """The tests a change must pass, sorted by key."""

    safety_class: SafetyClass
    requirements: tuple[str, ...]
    controls: tuple[str, ...]
    tests: tuple[RegressionTest, ...]

    @property
    def keys(self) -> frozenset[str]:
        """The test keys, as ``TraceScope.tests`` wants them."""
        return frozenset(test.key for test in self.tests)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "safety_class": self.safety_class.value,
            "requirements": list(self.requirements),
            "controls": list(self.controls),
            "tests": [test.as_dict() for test in self.tests],
        }


def build_regression_set(
    requirements: Collection[str],
    controls: Collection[str],
    safety_class: SafetyClass,
    requirement_tests: Mapping[str, Collection[str]],
    control_requirements: Mapping[str, Collection[str]],
    levels: Mapping[str, TestLevel | None],
) -> RegressionSet:
    """The regression set for touched ``requirements`` and ``controls`` at ``safety_class``.

    ``levels`` holds every test of the organization with its level (None: not recorded).
    """
    reasons: dict[str, list[str]] = {}

    def add(test: str, reason: str) -> None:
        reasons.setdefault(test, [])
        if reason not in reasons[test]:
            reasons[test].append(reason)

    for requirement in sorted(requirements):
        for test in sorted(requirement_tests.get(requirement, ())):
            add(test, f"verifies touched requirement {requirement}")
    for control in sorted(controls):
        for requirement in sorted(control_requirements.get(control, ())):
            for test in sorted(requirement_tests.get(requirement, ())):
                add(test, f"verifies {requirement}, which implements touched control {control}")
    if safety_class is SafetyClass.B:
        for test, level in sorted(levels.items()):
            if level is None:
                add(test, "class B minimum: test level not recorded, so it may be integration")
            elif level is not TestLevel.UNIT:
                add(test, f"class B minimum: every {level.value}-level test")
    elif safety_class is SafetyClass.C:
        for test in sorted(levels):
            add(test, "class C minimum: every test")
    return RegressionSet(
        safety_class=safety_class,
        requirements=tuple(sorted(requirements)),
        controls=tuple(sorted(controls)),
        tests=tuple(
            RegressionTest(test, levels.get(test), tuple(why))
            for test, why in sorted(reasons.items())
        ),
    )
