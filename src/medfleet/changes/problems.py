"""Problem reports (IEC 62304 §9): record, investigate, close, and address through changes.

A problem report names where it came from, how critical it is and which released versions it
affects; the investigation is written on it and it is closed with that conclusion. Several
problem reports can be addressed by one change request (``link``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes import service
from medfleet.changes.access import AUTHOR_ROLES, check_staff, require_role
from medfleet.changes.errors import (
    ChangeStateError,
    InvalidChangeRequestError,
    ProblemReportNotFoundError,
)
from medfleet.changes.model import PROBLEM_TRANSITIONS, Criticality, ProblemSource, ProblemState
from medfleet.changes.numbering import find_by_key, next_number
from medfleet.changes.tables import ChangeRequest, ProblemReport

MAX_TITLE = 300
MAX_VERSIONS = 200
_E = TypeVar("_E", ProblemSource, Criticality, ProblemState)
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")


@dataclass(frozen=True, slots=True)
class NewProblem:
    """What a reporter says about a problem."""

    title: str
    source: str
    criticality: str
    description: str = ""
    affected_versions: Sequence[str] = ()


def _enum_value(kind: type[_E], value: str) -> _E:
    try:
        return kind(value.strip().lower())
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise InvalidChangeRequestError(
            f"unknown {kind.__name__} {value!r} (known: {known})"
        ) from None


def _versions(values: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    bad = [v for v in cleaned if not _VERSION.fullmatch(v)]
    if bad:
        raise InvalidChangeRequestError(f"not a version: {', '.join(map(repr, bad))}")
    if len(cleaned) > MAX_VERSIONS:
        raise InvalidChangeRequestError(f"at most {MAX_VERSIONS} affected versions")
    return cleaned


def create(
    session: Session, audit: AuditLog, principal: Principal, new: NewProblem
) -> ProblemReport:
    """Record a problem report as open.

    Raises:
        ChangeRequestNotFoundError: hospital staff. ChangeNotAllowedError: wrong role.
        InvalidChangeRequestError: empty title, unknown source/criticality, bad version.
    """
    check_staff(principal, "problem reports")
    require_role(principal, AUTHOR_ROLES, "recording a problem report")
    title = new.title.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidChangeRequestError(
            f"a problem report needs a title of 1-{MAX_TITLE} characters"
        )
    source = _enum_value(ProblemSource, new.source)
    criticality = _enum_value(Criticality, new.criticality)
    versions = _versions(new.affected_versions)
    number = next_number(session, ProblemReport, principal.org_id)
    now = audit.clock.now()
    report = ProblemReport(
        org_id=principal.org_id,
        number=number,
        title=title,
        description=new.description.strip(),
        source=source.value,
        criticality=criticality.value,
        affected_versions=versions,
        investigation="",
        state=ProblemState.OPEN.value,
        author_id=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(report)
    session.flush()
    session.refresh(report, ["author"])
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "problem_report.created",
            "problem_report",
            str(report.id),
            {
                "key": report.key,
                "title": title,
                "source": source.value,
                "criticality": criticality.value,
                "affected_versions": versions,
            },
        ),
    )
    return report


def get(session: Session, principal: Principal, key: str) -> ProblemReport:
    """A problem report by ``PR-n`` key within the caller's organization.

    Raises:
        ProblemReportNotFoundError: malformed, missing, or another organization's.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise ProblemReportNotFoundError("problem reports belong to the manufacturer")
    return find_by_key(
        session,
        ProblemReport,
        principal.org_id,
        key,
        "PR",
        "problem report",
        ProblemReportNotFoundError,
    )


def list_all(session: Session, principal: Principal) -> list[ProblemReport]:
    """The caller's organization's problem reports, newest first (empty for hospitals)."""
    if principal.org_kind is not OrgKind.MANUFACTURER:
        return []
    return list(
        session.scalars(
            select(ProblemReport)
            .where(ProblemReport.org_id == principal.org_id)
            .order_by(ProblemReport.number.desc())
        )
    )


def investigate(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    investigation: str | None = None,
    state: str | None = None,
) -> ProblemReport:
    """Write the investigation and/or move the report (open, investigating, closed).

    Closing needs a written investigation: the conclusion is what closes it.

    Raises:
        ProblemReportNotFoundError, ChangeNotAllowedError, InvalidChangeRequestError,
        ChangeStateError: a transition that does not exist, or closing without a conclusion.
    """
    report = get(session, principal, key)
    require_role(principal, AUTHOR_ROLES, "investigating a problem report")
    before = {"state": report.state, "investigation": report.investigation}
    if investigation is not None:
        report.investigation = investigation.strip()
    if state is not None:
        target = _enum_value(ProblemState, state)
        if target is not report.status:
            if target not in PROBLEM_TRANSITIONS[report.status]:
                raise ChangeStateError(f"{report.key} cannot move from {report.state} to {target}")
            report.state = target.value
    if report.status is ProblemState.CLOSED and not report.investigation:
        raise ChangeStateError(f"{report.key} cannot be closed without an investigation")
    after = {"state": report.state, "investigation": report.investigation}
    if after == before:
        raise InvalidChangeRequestError(f"nothing to change on {report.key}")
    report.updated_at = audit.clock.now()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "problem_report.investigated",
            "problem_report",
            str(report.id),
            {"key": report.key, "before": before, "after": after},
        ),
    )
    return report


def link(
    session: Session, audit: AuditLog, principal: Principal, change_key: str, problem_key: str
) -> ChangeRequest:
    """Record that a change request addresses a problem report (idempotent refusal on repeat).

    Raises:
        ChangeRequestNotFoundError, ProblemReportNotFoundError, ChangeNotAllowedError,
        ChangeStateError: the change request is frozen, or already addresses the report.
    """
    change = service.get(session, principal, change_key)
    require_role(principal, AUTHOR_ROLES, "linking a problem report")
    service.require_editable(change)
    report = get(session, principal, problem_key)
    if report in change.problems:
        raise ChangeStateError(f"{change.key} already addresses {report.key}")
    change.problems.append(report)
    change.updated_at = audit.clock.now()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "change_request.problem_linked",
            "change_request",
            str(change.id),
            {"key": change.key, "problem_report": report.key},
        ),
    )
    return change
