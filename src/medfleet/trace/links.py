"""Tests and links: test levels, requirement ↔ test, risk control ↔ requirement.

One transaction and one audit event per change. Linking is idempotent (linking twice keeps the
first link and writes no event); a link may name a test that has not run yet, which creates
the test record. Retired requirements cannot gain links; unlinking what is not linked is an
error, so a script learns about its typo.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.trace.access import check_writer, find_requirement, find_test, is_staff
from medfleet.trace.coverage import checked_controls
from medfleet.trace.errors import LinkNotFoundError, RequirementRetiredError
from medfleet.trace.model import TestLevel, check_control_key, check_test_key, parse_level
from medfleet.trace.tables import (
    ControlRequirementLink,
    Requirement,
    RequirementTestLink,
    TraceTest,
)

MANUAL = "manual"
JUNIT = "junit"


def ensure_test(session: Session, org_id: int, key: str, now: datetime) -> TraceTest:
    """The test ``key`` of the organization, created (level not recorded) if it is new.

    Raises:
        InvalidTestError: malformed id.
    """
    normalized = check_test_key(key)
    test = session.scalar(
        select(TraceTest).where(TraceTest.org_id == org_id, TraceTest.key == normalized)
    )
    if test is None:
        test = TraceTest(org_id=org_id, key=normalized, level=None, created_at=now)
        session.add(test)
        session.flush()
    return test


def ensure_test_link(
    session: Session,
    requirement: Requirement,
    test: TraceTest,
    source: str,
    actor: str,
    now: datetime,
) -> bool:
    """Link ``test`` to ``requirement`` unless linked already; True when a link was made."""
    exists = session.scalar(
        select(RequirementTestLink.id).where(
            RequirementTestLink.requirement_id == requirement.id,
            RequirementTestLink.test_id == test.id,
        )
    )
    if exists is not None:
        return False
    session.add(
        RequirementTestLink(
            org_id=requirement.org_id,
            requirement_id=requirement.id,
            test_id=test.id,
            source=source,
            created_by=actor,
            created_at=now,
        )
    )
    session.flush()
    return True


def _record(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    action: str,
    obj: str,
    details: dict[str, object],
) -> None:
    audit.record(
        session, NewEvent(principal.actor, principal.org_id, action, "trace_link", obj, details)
    )


def list_tests(session: Session, principal: Principal) -> list[TraceTest]:
    """The organization's tests by id (empty for hospital staff)."""
    if not is_staff(principal):
        return []
    return list(
        session.scalars(
            select(TraceTest).where(TraceTest.org_id == principal.org_id).order_by(TraceTest.key)
        )
    )


def set_level(
    session: Session, audit: AuditLog, principal: Principal, test_key: str, level: str
) -> TraceTest:
    """Record the level (unit, integration, system) of an existing test.

    Raises:
        TraceNotFoundError, TraceNotAllowedError, InvalidTestError.
        TestNotFoundError: no such test (tests come from runs and links).
    """
    check_writer(principal, "setting a test level")
    chosen: TestLevel = parse_level(level)
    test = find_test(session, principal.org_id, test_key)
    before = test.level
    test.level = chosen.value
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "trace.test.level_set",
            "trace_test",
            str(test.id),
            {"test": test.key, "before": before, "after": chosen.value},
        ),
    )
    return test


def link_test(
    session: Session, audit: AuditLog, principal: Principal, requirement_key: str, test_key: str
) -> tuple[Requirement, TraceTest, bool]:
    """Link a test to a requirement; True as third value when the link is new.

    Raises:
        TraceNotFoundError, TraceNotAllowedError, InvalidRequirementError, InvalidTestError.
        RequirementNotFoundError: no such requirement.
        RequirementRetiredError: the requirement is retired.
    """
    check_writer(principal, "linking a test")
    requirement = find_requirement(session, principal.org_id, requirement_key)
    if requirement.retired:
        raise RequirementRetiredError(f"requirement {requirement.key} is retired")
    now = audit.clock.now()
    test = ensure_test(session, principal.org_id, test_key, now)
    created = ensure_test_link(session, requirement, test, MANUAL, principal.actor, now)
    if created:
        _record(
            session,
            audit,
            principal,
            "trace.link.test_linked",
            f"{requirement.key}|{test.key}",
            {"requirement": requirement.key, "test": test.key},
        )
    return requirement, test, created


def unlink_test(
    session: Session, audit: AuditLog, principal: Principal, requirement_key: str, test_key: str
) -> None:
    """Remove the link between a requirement and a test.

    Raises:
        TraceNotFoundError, TraceNotAllowedError, RequirementNotFoundError, TestNotFoundError.
        LinkNotFoundError: they are not linked.
    """
    check_writer(principal, "unlinking a test")
    requirement = find_requirement(session, principal.org_id, requirement_key)
    test = find_test(session, principal.org_id, test_key)
    link = session.scalar(
        select(RequirementTestLink).where(
            RequirementTestLink.requirement_id == requirement.id,
            RequirementTestLink.test_id == test.id,
        )
    )
    if link is None:
        raise LinkNotFoundError(f"test {test.key} is not linked to {requirement.key}")
    session.delete(link)
    _record(
        session,
        audit,
        principal,
        "trace.link.test_unlinked",
        f"{requirement.key}|{test.key}",
        {"requirement": requirement.key, "test": test.key, "source": link.source},
    )


def link_control(
    session: Session, audit: AuditLog, principal: Principal, control_key: str, requirement_key: str
) -> tuple[str, Requirement, bool]:
    """Link a risk control of the risk file to the requirement implementing it.

    Raises:
        TraceNotFoundError, TraceNotAllowedError, InvalidControlKeyError.
        UnknownReferenceError: the risk file has no such control.
        RequirementNotFoundError, RequirementRetiredError.
    """
    check_writer(principal, "linking a risk control")
    control = check_control_key(control_key)
    requirement = find_requirement(session, principal.org_id, requirement_key)
    if requirement.retired:
        raise RequirementRetiredError(f"requirement {requirement.key} is retired")
    checked_controls(session, principal.org_id, [control])
    exists = session.scalar(
        select(ControlRequirementLink.id).where(
            ControlRequirementLink.org_id == principal.org_id,
            ControlRequirementLink.control_key == control,
            ControlRequirementLink.requirement_id == requirement.id,
        )
    )
    if exists is not None:
        return control, requirement, False
    session.add(
        ControlRequirementLink(
            org_id=principal.org_id,
            control_key=control,
            requirement_id=requirement.id,
            created_by=principal.actor,
            created_at=audit.clock.now(),
        )
    )
    session.flush()
    _record(
        session,
        audit,
        principal,
        "trace.link.control_linked",
        f"{control}|{requirement.key}",
        {"control": control, "requirement": requirement.key},
    )
    return control, requirement, True


def unlink_control(
    session: Session, audit: AuditLog, principal: Principal, control_key: str, requirement_key: str
) -> None:
    """Remove the link between a risk control and a requirement.

    Raises:
        TraceNotFoundError, TraceNotAllowedError, InvalidControlKeyError,
        RequirementNotFoundError.
        LinkNotFoundError: they are not linked.
    """
    check_writer(principal, "unlinking a risk control")
    control = check_control_key(control_key)
    requirement = find_requirement(session, principal.org_id, requirement_key)
    link = session.scalar(
        select(ControlRequirementLink).where(
            ControlRequirementLink.org_id == principal.org_id,
            ControlRequirementLink.control_key == control,
            ControlRequirementLink.requirement_id == requirement.id,
        )
    )
    if link is None:
        raise LinkNotFoundError(f"{control} is not linked to {requirement.key}")
    session.delete(link)
    _record(
        session,
        audit,
        principal,
        "trace.link.control_unlinked",
        f"{control}|{requirement.key}",
        {"control": control, "requirement": requirement.key},
    )


def controls_of(session: Session, requirement: Requirement) -> list[str]:
    """The risk control keys linked to ``requirement``, sorted."""
    return sorted(
        session.scalars(
            select(ControlRequirementLink.control_key).where(
                ControlRequirementLink.requirement_id == requirement.id
            )
        )
    )


def tests_of(session: Session, requirement: Requirement) -> list[str]:
    """The ids of the tests linked to ``requirement``, sorted."""
    return sorted(
        session.scalars(
            select(TraceTest.key)
            .join(RequirementTestLink, RequirementTestLink.test_id == TraceTest.id)
            .where(RequirementTestLink.requirement_id == requirement.id)
        )
    )


def requirements_of(session: Session, test: TraceTest) -> list[str]:
    """The ids of the requirements ``test`` is linked to, sorted."""
    return sorted(
        session.scalars(
            select(Requirement.key)
            .join(RequirementTestLink, RequirementTestLink.requirement_id == Requirement.id)
            .where(RequirementTestLink.test_id == test.id)
        )
    )
