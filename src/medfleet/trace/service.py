"""Requirement use cases (add, revise, retire, read) and what other packages ask of trace/.

Each use case is one transaction with one audit event. Versions are append-only: revising or
retiring writes version n+1, optionally under a change request, which is how
``requirement_changes`` knows what a change request did to the requirements.

Other packages call ``requirement_changes``, ``gaps`` and ``regression_set`` (the last two live
in ``trace.coverage`` and are re-exported here); they take an organization id, not a caller:
the caller's own service has already decided the caller may see the organization's records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.trace.access import (
    change_request_id,
    check_staff,
    check_writer,
    find_requirement,
    is_staff,
)
from medfleet.trace.coverage import gaps, regression_set
from medfleet.trace.errors import (
    InvalidRequirementError,
    RequirementExistsError,
    RequirementRetiredError,
)
from medfleet.trace.model import (
    MAX_ITEM,
    MAX_TEXT,
    MAX_TITLE,
    ChangeAction,
    RequirementChange,
    RequirementState,
    check_requirement_key,
    parse_kind,
    summarize_change,
    text_field,
)
from medfleet.trace.tables import Requirement, RequirementVersion

__all__ = [
    "create_requirement",
    "gaps",
    "get_requirement",
    "history",
    "list_requirements",
    "regression_set",
    "requirement_changes",
    "retire_requirement",
    "revise_requirement",
]


def _write_version(
    session: Session,
    requirement: Requirement,
    principal: Principal,
    action: ChangeAction,
    content: RequirementState,
    change_id: int | None,
    now: datetime,
) -> RequirementVersion:
    version = RequirementVersion(
        org_id=requirement.org_id,
        requirement_id=requirement.id,
        version=content.version,
        action=action.value,
        kind=content.kind.value,
        title=content.title,
        text=content.text,
        software_item=content.software_item,
        change_request_id=change_id,
        author_id=principal.user_id,
        created_at=now,
    )
    session.add(version)
    requirement.current_version = content.version
    requirement.updated_at = now
    session.flush()
    return version


def _event(
    audit: AuditLog,
    session: Session,
    principal: Principal,
    action: str,
    requirement: Requirement,
    details: dict[str, object],
) -> None:
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            action,
            "requirement",
            str(requirement.id),
            {"key": requirement.key, "version": requirement.current_version, **details},
        ),
    )


def current_version(session: Session, requirement: Requirement) -> RequirementVersion:
    """The version ``requirement.current_version`` points at."""
    found = session.scalar(
        select(RequirementVersion).where(
            RequirementVersion.requirement_id == requirement.id,
            RequirementVersion.version == requirement.current_version,
        )
    )
    assert found is not None, f"requirement {requirement.key} lost its current version"
    return found


def _state(version: RequirementVersion) -> RequirementState:
    return RequirementState(
        version.version,
        version.change_action,
        version.requirement_kind,
        version.title,
        version.text,
        version.software_item,
    )


def create_requirement(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    title: str,
    text: str,
    kind: str,
    software_item: str,
    change_key: str | None = None,
) -> Requirement:
    """Add requirement ``key`` at version 1, under change request ``change_key`` if given.

    Raises:
        TraceNotFoundError: the caller is hospital staff.
        TraceNotAllowedError: not an engineer, QA/RA or admin.
        InvalidRequirementError: malformed id, empty title or text, unknown kind, overlong.
        RequirementExistsError: the id is taken (also by a retired requirement).
        ChangeRequestNotFoundError: ``change_key`` names no change request.
    """
    check_writer(principal, "adding a requirement")
    normalized = check_requirement_key(key)
    content = RequirementState(
        1,
        ChangeAction.ADDED,
        parse_kind(kind),
        text_field("title", title, MAX_TITLE),
        text_field("text", text, MAX_TEXT),
        text_field("software item", software_item, MAX_ITEM),
    )
    change_id = change_request_id(session, principal, change_key)
    taken = session.scalar(
        select(Requirement.id).where(
            Requirement.org_id == principal.org_id, Requirement.key == normalized
        )
    )
    if taken is not None:
        raise RequirementExistsError(f"requirement {normalized} exists already")
    now = audit.clock.now()
    requirement = Requirement(
        org_id=principal.org_id,
        key=normalized,
        current_version=1,
        retired=False,
        created_at=now,
        updated_at=now,
    )
    session.add(requirement)
    session.flush()
    _write_version(session, requirement, principal, ChangeAction.ADDED, content, change_id, now)
    _event(
        audit,
        session,
        principal,
        "requirement.added",
        requirement,
        {"title": content.title, "kind": content.kind.value, "change_request": change_key},
    )
    return requirement


def revise_requirement(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    *,
    title: str | None = None,
    text: str | None = None,
    kind: str | None = None,
    software_item: str | None = None,
    change_key: str | None = None,
) -> Requirement:
    """Write the next version of ``key`` with the given fields changed (the rest kept).

    Raises:
        RequirementNotFoundError, TraceNotAllowedError, ChangeRequestNotFoundError.
        InvalidRequirementError: a field is not acceptable, or nothing would change.
        RequirementRetiredError: the requirement is retired.
    """
    check_writer(principal, "revising a requirement")
    requirement = find_requirement(session, principal.org_id, key)
    if requirement.retired:
        raise RequirementRetiredError(f"requirement {requirement.key} is retired")
    before = _state(current_version(session, requirement))
    content = RequirementState(
        before.version + 1,
        ChangeAction.MODIFIED,
        parse_kind(kind) if kind is not None else before.kind,
        text_field("title", title, MAX_TITLE) if title is not None else before.title,
        text_field("text", text, MAX_TEXT) if text is not None else before.text,
        text_field("software item", software_item, MAX_ITEM)
        if software_item is not None
        else before.software_item,
    )
    changed = [
        name
        for name in ("kind", "title", "text", "software_item")
        if getattr(content, name) != getattr(before, name)
    ]
    if not changed:
        raise InvalidRequirementError(f"nothing to change: {requirement.key} already says that")
    change_id = change_request_id(session, principal, change_key)
    now = audit.clock.now()
    _write_version(session, requirement, principal, ChangeAction.MODIFIED, content, change_id, now)
    _event(
        audit,
        session,
        principal,
        "requirement.revised",
        requirement,
        {"changed": changed, "change_request": change_key},
    )
    return requirement


def retire_requirement(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    change_key: str | None = None,
) -> Requirement:
    """Retire ``key``: a last version (its content unchanged) marks it retired; it stays
    readable, keeps its links, and is no longer a gap.

    Raises:
        RequirementNotFoundError, TraceNotAllowedError, ChangeRequestNotFoundError.
        RequirementRetiredError: retired already.
    """
    check_writer(principal, "retiring a requirement")
    requirement = find_requirement(session, principal.org_id, key)
    if requirement.retired:
        raise RequirementRetiredError(f"requirement {requirement.key} is retired already")
    before = _state(current_version(session, requirement))
    change_id = change_request_id(session, principal, change_key)
    now = audit.clock.now()
    content = RequirementState(
        before.version + 1,
        ChangeAction.RETIRED,
        before.kind,
        before.title,
        before.text,
        before.software_item,
    )
    _write_version(session, requirement, principal, ChangeAction.RETIRED, content, change_id, now)
    requirement.retired = True
    _event(
        audit,
        session,
        principal,
        "requirement.retired",
        requirement,
        {"change_request": change_key},
    )
    return requirement


def get_requirement(session: Session, principal: Principal, key: str) -> Requirement:
    """A requirement of the caller's organization by id, retired ones included.

    Raises:
        TraceNotFoundError: hospital staff.
        InvalidRequirementError: malformed id.
        RequirementNotFoundError: no such requirement.
    """
    check_staff(principal)
    return find_requirement(session, principal.org_id, key)


def list_requirements(
    session: Session, principal: Principal, include_retired: bool = False
) -> list[Requirement]:
    """The organization's requirements by id (empty for hospital staff)."""
    if not is_staff(principal):
        return []
    query = select(Requirement).where(Requirement.org_id == principal.org_id)
    if not include_retired:
        query = query.where(Requirement.retired.is_(False))
    return list(session.scalars(query.order_by(Requirement.key)))


def history(session: Session, requirement: Requirement) -> list[RequirementVersion]:
    """Every version of ``requirement``, oldest first."""
    return list(
        session.scalars(
            select(RequirementVersion)
            .where(RequirementVersion.requirement_id == requirement.id)
            .order_by(RequirementVersion.version)
        )
    )


def requirement_changes(
    session: Session, org_id: int, change_request_id: int
) -> list[RequirementChange]:
    """What change request ``change_request_id`` did to the requirements, by requirement id.

    Several versions written under the same change request collapse into one change, from the
    version before the first of them to the last (``model.summarize_change``).
    """
    written = session.execute(
        select(Requirement.key, RequirementVersion)
        .join(Requirement, Requirement.id == RequirementVersion.requirement_id)
        .where(
            RequirementVersion.org_id == org_id,
            RequirementVersion.change_request_id == change_request_id,
        )
        .order_by(Requirement.key, RequirementVersion.version)
    ).all()
    by_key: dict[str, list[RequirementVersion]] = {}
    for key, version in written:
        by_key.setdefault(key, []).append(version)
    changes = []
    for key, versions in sorted(by_key.items()):
        first = versions[0]
        before = session.scalar(
            select(RequirementVersion).where(
                RequirementVersion.requirement_id == first.requirement_id,
                RequirementVersion.version == first.version - 1,
            )
        )
        changes.append(
            summarize_change(key, _state(before) if before else None, [_state(v) for v in versions])
        )
    return changes
