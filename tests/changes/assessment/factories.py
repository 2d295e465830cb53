"""Small builders for assessment facts and answers, so each test states only what matters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from medfleet.changes.assessment.facts import (
    ChangeFacts,
    ControlFact,
    RequirementFact,
    SituationFact,
)
from medfleet.changes.assessment.questions import AssessorAnswer

AT = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)


def added_situation(
    key: str, severity: int, *, significant: bool, probability: int = 2
) -> SituationFact:
    """A hazardous situation the change introduces."""
    return SituationFact(key, "added", None, severity, None, probability, significant, None, True)


def modified_situation(
    key: str,
    severity: tuple[int, int],
    probability: tuple[int, int] = (2, 2),
    *,
    significant: bool,
    mitigated: tuple[bool, bool] = (True, True),
) -> SituationFact:
    """An existing hazardous situation the change modifies (before, after)."""
    return SituationFact(
        key,
        "modified",
        severity[0],
        severity[1],
        probability[0],
        probability[1],
        significant,
        mitigated[0],
        mitigated[1],
    )


def removed_situation(key: str, severity: int, *, significant: bool) -> SituationFact:
    """A hazardous situation the change removes."""
    return SituationFact(key, "removed", severity, None, 2, None, significant, True, None)


def control(
    key: str, action: Any, *situations: str, significant: bool, redundant: bool = False
) -> ControlFact:
    """A risk control measure the change adds, modifies or removes."""
    return ControlFact(key, action, situations, significant, redundant)


def requirement(key: str, action: Any = "modified", kind: Any = "functional") -> RequirementFact:
    """A requirement the change adds, modifies or retires."""
    return RequirementFact(key, action, kind)


def change(
    key: str = "CR-7",
    change_class: Any = "minor",
    *,
    situations: tuple[SituationFact, ...] = (),
    controls: tuple[ControlFact, ...] = (),
    requirements: tuple[RequirementFact, ...] = (),
    title: str = "A change",
    device_model: str = "infusion-pump-X",
    safety_class: Any = "B",
) -> ChangeFacts:
    """A change's facts."""
    return ChangeFacts(
        key, title, change_class, safety_class, device_model, situations, controls, requirements
    )


def said(
    question_id: str, value: bool, why: str = "because the assessor checked"
) -> AssessorAnswer:
    """An assessor's answer."""
    return AssessorAnswer(question_id, value, why, "qa.lee", AT)


NO_INTENT = said("fda-intent", False, "a maintenance release, no clinical claim changes")
NOT_CLINICAL = said(
    "fda-q4", False, "no clinical functionality or performance specification changes"
)
MDCG_NO = tuple(said(f"mdcg-c{n}", False, "not this kind of change") for n in range(1, 6))
