"""Coverage on a build: the data the gap and regression decisions read, and the two services.

``gaps`` and ``regression_set`` take an organization id (the calling service has checked the
caller) and read in the caller's transaction; they change nothing. The risk controls of "the
whole risk file" come from ``medfleet.risk.service.control_keys``; keys named in a scope or a
regression request must exist, so a typo is an error rather than a silently empty check.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.trace.errors import UnknownReferenceError
from medfleet.trace.model import (
    Gap,
    Outcome,
    TraceData,
    TraceScope,
    check_build_id,
    check_control_key,
    check_requirement_key,
    check_test_key,
    find_gaps,
)
from medfleet.trace.regression import RegressionSet, build_regression_set, parse_safety_class
from medfleet.trace.tables import (
    ControlRequirementLink,
    Requirement,
    RequirementTestLink,
    RunResult,
    TraceTest,
    VerificationRun,
)


def known_controls(session: Session, org_id: int) -> set[str]:
    """The risk control keys of the organization's risk file (owned by ``risk/``)."""
    from medfleet.risk import service as risk_service  # late: risk/ may import trace/

    return set(risk_service.control_keys(session, org_id))


@dataclass(frozen=True)
class LatestResult:
    """The result that counts for a test on a build: the one of the latest run holding it."""

    outcome: Outcome
    message: str | None
    run_id: int


def latest_results(session: Session, org_id: int, build_id: str) -> dict[str, LatestResult]:
    """Per test id, its result in the most recently imported run of ``build_id``."""
    rows = session.execute(
        select(TraceTest.key, RunResult.outcome, RunResult.message, VerificationRun.id)
        .join(RunResult, RunResult.test_id == TraceTest.id)
        .join(VerificationRun, VerificationRun.id == RunResult.run_id)
        .where(VerificationRun.org_id == org_id, VerificationRun.build_id == build_id)
        .order_by(VerificationRun.imported_at, VerificationRun.id)
    ).all()
    return {
        key: LatestResult(Outcome(outcome), message, run) for key, outcome, message, run in rows
    }


def requirement_tests(session: Session, org_id: int) -> dict[str, frozenset[str]]:
    """Per requirement id (retired ones included), the ids of the tests linked to it."""
    links: dict[str, set[str]] = {}
    rows = session.execute(
        select(Requirement.key, TraceTest.key)
        .join(RequirementTestLink, RequirementTestLink.requirement_id == Requirement.id)
        .join(TraceTest, TraceTest.id == RequirementTestLink.test_id)
        .where(Requirement.org_id == org_id)
    ).all()
    for requirement, test in rows:
        links.setdefault(requirement, set()).add(test)
    return {key: frozenset(tests) for key, tests in links.items()}


def control_requirements(session: Session, org_id: int) -> dict[str, frozenset[str]]:
    """Per risk control key, the ids of the requirements linked to it (retired included)."""
    links: dict[str, set[str]] = {}
    rows = session.execute(
        select(ControlRequirementLink.control_key, Requirement.key)
        .join(Requirement, Requirement.id == ControlRequirementLink.requirement_id)
        .where(ControlRequirementLink.org_id == org_id)
    ).all()
    for control, requirement in rows:
        links.setdefault(control, set()).add(requirement)
    return {key: frozenset(requirements) for key, requirements in links.items()}


def requirement_keys(session: Session, org_id: int) -> tuple[frozenset[str], frozenset[str]]:
    """The organization's current and retired requirement ids."""
    rows = session.execute(
        select(Requirement.key, Requirement.retired).where(Requirement.org_id == org_id)
    ).all()
    return (
        frozenset(key for key, retired in rows if not retired),
        frozenset(key for key, retired in rows if retired),
    )


def trace_data(session: Session, org_id: int, build_id: str) -> TraceData:
    """Everything ``model.find_gaps`` reads, for one build, with the risk file's controls.

    Raises:
        InvalidBuildError: malformed build id.
    """
    build = check_build_id(build_id)
    current, retired = requirement_keys(session, org_id)
    results = latest_results(session, org_id, build)
    return TraceData(
        requirements=current,
        controls=frozenset(known_controls(session, org_id)),
        requirement_tests=requirement_tests(session, org_id),
        control_requirements=control_requirements(session, org_id),
        results={key: result.outcome for key, result in results.items()},
        build_id=build,
        retired=retired,
    )


def _unknown(what: str, keys: Iterable[str]) -> UnknownReferenceError:
    return UnknownReferenceError(f"unknown {what}: {', '.join(sorted(keys))}")


def checked_requirements(session: Session, org_id: int, keys: Collection[str]) -> frozenset[str]:
    """Requirement ids normalized, each of which exists (retired ones included).

    Raises:
        InvalidRequirementError: a malformed id.
        UnknownReferenceError: ids that name no requirement, all of them listed.
    """
    normalized = frozenset(check_requirement_key(key) for key in keys)
    current, retired = requirement_keys(session, org_id)
    missing = normalized - current - retired
    if missing:
        raise _unknown("requirement(s)", missing)
    return normalized


def checked_controls(session: Session, org_id: int, keys: Collection[str]) -> frozenset[str]:
    """Risk control keys normalized, each of which is in the risk file.

    Raises:
        InvalidControlKeyError: a malformed key.
        UnknownReferenceError: keys the risk file does not hold, all of them listed.
    """
    normalized = frozenset(check_control_key(key) for key in keys)
    if not normalized:
        return normalized
    missing = normalized - known_controls(session, org_id)
    if missing:
        raise _unknown("risk control(s)", missing)
    return normalized


def gaps(
    session: Session, org_id: int, build_id: str, scope: TraceScope | None = None
) -> list[Gap]:
    """Every traceability gap on ``build_id`` (``model.find_gaps``), sorted by kind and key.

    ``scope`` None checks every current requirement, every risk control of the risk file and
    every test with a result on the build. With a scope, its requirements, controls and
    regression tests only; each of its keys must exist.

    Raises:
        InvalidBuildError: malformed build id.
        InvalidRequirementError, InvalidControlKeyError, InvalidTestError: a malformed key.
        UnknownReferenceError: the scope names requirements or controls that do not exist.
    """
    data = trace_data(session, org_id, build_id)
    if scope is not None:
        scope = TraceScope(
            requirements=checked_requirements(session, org_id, scope.requirements),
            controls=checked_controls(session, org_id, scope.controls),
            tests=frozenset(check_test_key(key) for key in scope.tests),
        )
    return find_gaps(data, scope)


def tests_by_key(session: Session, org_id: int) -> dict[str, TraceTest]:
    """Every test of the organization by id."""
    return {
        test.key: test
        for test in session.scalars(select(TraceTest).where(TraceTest.org_id == org_id))
    }


def regression_set(
    session: Session,
    org_id: int,
    requirements: Collection[str],
    controls: Collection[str],
    safety_class: str,
) -> RegressionSet:
    """The regression set for the touched requirements and risk controls at ``safety_class``
    (``regression.build_regression_set``); every test in it carries why.

    Raises:
        InvalidSafetyClassError: not A, B or C.
        InvalidRequirementError, InvalidControlKeyError: a malformed key.
        UnknownReferenceError: requirements or controls that do not exist.
    """
    chosen = parse_safety_class(safety_class)
    touched_requirements = checked_requirements(session, org_id, requirements)
    touched_controls = checked_controls(session, org_id, controls)
    return build_regression_set(
        touched_requirements,
        touched_controls,
        chosen,
        requirement_tests(session, org_id),
        control_requirements(session, org_id),
        {key: test.test_level for key, test in tests_by_key(session, org_id).items()},
    )
