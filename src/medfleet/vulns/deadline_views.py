"""How assessments' patch deadlines stand now: one assessment, or the organization's list.

The status of each deadline is computed at the moment asked (``deadlines.deadline_status``);
nothing is stored. Manufacturer staff read these; hospital staff are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.releases.model import release_id
from medfleet.releases.tables import Release
from medfleet.vulns.assessments import check_reader, find_assessment, fixed_release_id, iso
from medfleet.vulns.deadlines import DeadlineKind, DeadlineState, DeadlineStatus, deadline_status
from medfleet.vulns.tables import VulnAssessment, Vulnerability


@dataclass(frozen=True, slots=True)
class AssessmentView:
    """An assessment with its vulnerability's key, its fixed release and its deadlines' status."""

    assessment: VulnAssessment
    vulnerability: str
    fixed_release: str | None
    inform: DeadlineStatus | None
    fix: DeadlineStatus

    @property
    def overdue(self) -> bool:
        """Whether a deadline is overdue."""
        return any(
            s is not None and s.state is DeadlineState.OVERDUE for s in (self.inform, self.fix)
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        row = self.assessment
        return {
            "vulnerability": self.vulnerability,
            "risk": row.risk,
            "critical": row.critical,
            "rationale": row.rationale,
            "compensating_controls": row.compensating_controls,
            "planned_fix": row.planned_fix,
            "fixed_release": self.fixed_release,
            "aware_at": iso(row.aware_at),
            "customers_informed_at": iso(row.customers_informed_at),
            "fix_distributed_at": iso(row.fix_distributed_at),
            "inform": None if self.inform is None else self.inform.as_dict(),
            "fix": self.fix.as_dict(),
            "overdue": self.overdue,
            "assessed_at": iso(row.assessed_at),
        }


def _view(row: VulnAssessment, key: str, release: str | None, now: datetime) -> AssessmentView:
    inform = None
    if row.inform_due_at is not None:
        inform = deadline_status(
            DeadlineKind.INFORM, row.inform_due_at, row.customers_informed_at, now
        )
    fix = deadline_status(DeadlineKind.FIX, row.fix_due_at, row.fix_distributed_at, now)
    return AssessmentView(row, key, release, inform, fix)


def view_assessment(
    session: Session, principal: Principal, id_or_alias: str, now: datetime
) -> AssessmentView:
    """One assessment and its deadlines at ``now`` (errors as ``find_assessment``)."""
    row = find_assessment(session, principal, id_or_alias)
    key = session.get_one(Vulnerability, row.vulnerability_id).key
    return _view(row, key, fixed_release_id(session, row), now)


def list_deadlines(
    session: Session, principal: Principal, now: datetime, *, overdue_only: bool = False
) -> list[AssessmentView]:
    """Every assessment of the caller's organization with its deadlines at ``now``: overdue
    ones first, then by the earliest deadline not yet met (met ones last), then by key.

    Raises:
        VulnsPermissionError: hospital staff.
    """
    check_reader(principal)
    rows = session.execute(
        select(VulnAssessment, Vulnerability.key, Release.model, Release.version)
        .join(Vulnerability, Vulnerability.id == VulnAssessment.vulnerability_id)
        .outerjoin(Release, Release.id == VulnAssessment.fixed_release_pk)
        .where(VulnAssessment.org_id == principal.org_id)
    ).all()
    views = [
        _view(row, key, None if model is None else release_id(model, version), now)
        for row, key, model, version in rows
    ]
    if overdue_only:
        views = [view for view in views if view.overdue]

    def urgency(view: AssessmentView) -> tuple[bool, datetime, str]:
        open_dues = [
            s.due_at
            for s in (view.inform, view.fix)
            if s is not None and s.state is not DeadlineState.MET
        ]
        return (
            not view.overdue,
            min(open_dues, default=datetime.max.replace(tzinfo=now.tzinfo)),
            view.vulnerability,
        )

    return sorted(views, key=urgency)
