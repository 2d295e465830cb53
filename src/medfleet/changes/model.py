"""The pure core of change control: states and their transitions, classes, problem reports.

IEC 62304 §6.2 (maintenance) and §9 (problem resolution): a change request moves through
impact analysis, regulatory assessment, implementation, verification and approval before it
is released, and may be rejected or withdrawn on the way. Only the transitions in
``TRANSITIONS`` exist; a step back is allowed where rework is normal (a failed verification
returns to implementation). ``released`` is reached only through a release record.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass


class ChangeState(enum.StrEnum):
    """Where a change request is in its life."""

    DRAFT = "draft"
    IMPACT_ANALYSIS = "impact_analysis"
    ASSESSMENT = "assessment"
    IMPLEMENTATION = "implementation"
    VERIFICATION = "verification"
    APPROVAL = "approval"
    RELEASED = "released"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


TERMINAL = frozenset({ChangeState.RELEASED, ChangeState.REJECTED, ChangeState.WITHDRAWN})

_FORWARD = (
    ChangeState.DRAFT,
    ChangeState.IMPACT_ANALYSIS,
    ChangeState.ASSESSMENT,
    ChangeState.IMPLEMENTATION,
    ChangeState.VERIFICATION,
    ChangeState.APPROVAL,
    ChangeState.RELEASED,
)
_REJECTABLE = frozenset({ChangeState.IMPACT_ANALYSIS, ChangeState.ASSESSMENT, ChangeState.APPROVAL})
_REWORK = {
    ChangeState.ASSESSMENT: ChangeState.IMPACT_ANALYSIS,
    ChangeState.VERIFICATION: ChangeState.IMPLEMENTATION,
    ChangeState.APPROVAL: ChangeState.VERIFICATION,
}


def _transitions() -> dict[ChangeState, frozenset[ChangeState]]:
    table: dict[ChangeState, set[ChangeState]] = {state: set() for state in ChangeState}
    for current, following in itertools.pairwise(_FORWARD):
        table[current].add(following)
    for current, previous in _REWORK.items():
        table[current].add(previous)
    for state in _REJECTABLE:
        table[state].add(ChangeState.REJECTED)
    for state in ChangeState:
        if state not in TERMINAL:
            table[state].add(ChangeState.WITHDRAWN)
    return {state: frozenset(targets) for state, targets in table.items()}


TRANSITIONS: dict[ChangeState, frozenset[ChangeState]] = _transitions()

# States in which the content of a change (its risk-file delta, requirements, classification)
# may still change; from verification on, what was verified is what gets released.
EDITABLE = frozenset(
    {
        ChangeState.DRAFT,
        ChangeState.IMPACT_ANALYSIS,
        ChangeState.ASSESSMENT,
        ChangeState.IMPLEMENTATION,
    }
)


class TransitionNotAllowed(ValueError):  # noqa: N818 - a pure-core signal the service maps
    """The state machine has no such transition."""


def check_transition(current: ChangeState, target: ChangeState) -> None:
    """Accept ``current`` → ``target`` or raise with the allowed targets named.

    Raises:
        TransitionNotAllowed: not in ``TRANSITIONS``.
    """
    allowed = TRANSITIONS[current]
    if target not in allowed:
        names = ", ".join(sorted(state.value for state in allowed)) or "none (final state)"
        raise TransitionNotAllowed(
            f"a change request in {current.value} cannot move to {target.value} (allowed: {names})"
        )


class ChangeClass(enum.StrEnum):
    """What kind of change this is; the regulatory assessment starts from it."""

    MINOR = "minor"
    MAJOR = "major"
    CYBERSECURITY = "cybersecurity"
    AI_MODEL = "ai_model"


class SafetyClass(enum.StrEnum):
    """IEC 62304 software safety class of a software item (§4.3)."""

    A = "A"
    B = "B"
    C = "C"


def highest_class(classes: Iterable[SafetyClass]) -> SafetyClass | None:
    """The strictest class among ``classes`` (C > B > A); None when there are none."""
    ordered = sorted(classes, key=lambda value: value.value)
    return ordered[-1] if ordered else None


@dataclass(frozen=True, slots=True)
class EvidenceRequirement:
    """What verification and approval a safety class demands of a change."""

    test_levels: tuple[str, ...]
    independent_approval: bool


def evidence_required(safety_class: SafetyClass) -> EvidenceRequirement:
    """Class A: the tests traced to the change; B and C add integration and system test
    evidence and an approval by QA/RA independent of the change's authors (C: every test)."""
    if safety_class is SafetyClass.A:
        return EvidenceRequirement(("unit",), independent_approval=False)
    if safety_class is SafetyClass.B:
        return EvidenceRequirement(("unit", "integration", "system"), independent_approval=True)
    return EvidenceRequirement(("unit", "integration", "system"), independent_approval=True)


class ProblemSource(enum.StrEnum):
    """Where a problem report came from (IEC 62304 §9.1, ISO 13485 feedback)."""

    COMPLAINT = "complaint"
    INCIDENT = "incident"
    SERVICE_LOG = "service_log"
    VULNERABILITY = "vulnerability"
    ENHANCEMENT = "enhancement"
    AI_MODEL_RETRAINING = "ai_model_retraining"


class Criticality(enum.StrEnum):
    """How much a problem matters to safety and performance (§9.1 b)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    SAFETY_CRITICAL = "safety_critical"


class ProblemState(enum.StrEnum):
    """A problem report is open, under investigation, or closed with a conclusion."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    CLOSED = "closed"


PROBLEM_TRANSITIONS: dict[ProblemState, frozenset[ProblemState]] = {
    ProblemState.OPEN: frozenset({ProblemState.INVESTIGATING, ProblemState.CLOSED}),
    ProblemState.INVESTIGATING: frozenset({ProblemState.OPEN, ProblemState.CLOSED}),
    ProblemState.CLOSED: frozenset({ProblemState.INVESTIGATING}),
}
