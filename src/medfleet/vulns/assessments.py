"""Risk assessments of vulnerabilities and their patch deadlines (use cases).

The manufacturer's engineers, QA/RA and admins assess a vulnerability as controlled or
uncontrolled risk (``medfleet.vulns.deadlines``), mark it critical or not, and say why, which
compensating controls apply meanwhile and which fix is planned. The deadlines are computed from
the awareness date and the organization's patch policy (``medfleet.vulns.patch_policy``) *at
assessment time* and stored: a later policy change applies to the assessments made (or re-made)
after it, never silently to an earlier commitment. A re-assessment replaces the assessment in
place; its awareness date can move earlier (when the manufacturer learns it knew sooner), never
later (``AwarenessMovedLaterError``), so a re-assessment cannot buy time. A deadline whose due
date changes loses its earlier overdue alert (the audit trail keeps it), so the new date alerts
once.

"Customers informed" is set by the hospital-notice service when notices are first issued.
"Fix distributed" is set explicitly, or automatically once the named fixed release is released
and a campaign installing it has started (``first_distribution``; the deadline check and the
out-of-cycle campaign apply it). Once set, neither is cleared.

Assessments and policies are manufacturer-internal: every manufacturer role reads them
(``medfleet.vulns.deadline_views``), hospital staff are refused (``VulnsPermissionError``).
Each change writes an audit event in the caller's transaction; bad input raises a specific
error and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases import records
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.model import CampaignKind, CampaignState
from medfleet.rollouts.tables import Campaign
from medfleet.vulns.deadlines import (
    DeadlineKind,
    PatchTerms,
    compute_deadlines,
    parse_risk,
)
from medfleet.vulns.errors import (
    AssessmentNotFoundError,
    AwarenessMovedLaterError,
    FixReleaseError,
    InvalidAssessmentError,
    VulnsPermissionError,
)
from medfleet.vulns.identity import find_vulnerability
from medfleet.vulns.tables import DeadlineAlert, PatchPolicy, VulnAssessment, Vulnerability
from medfleet.vulns.vex_service import exposed_findings

ASSESSORS = (Role.ADMIN, Role.ENGINEER, Role.QA_RA)
MAX_TEXT = 20_000
OBJECT_TYPE = "vuln_assessment"


def check_reader(principal: Principal) -> None:
    """Assessments, deadlines and patch policies are for the manufacturer's staff only.

    Raises:
        VulnsPermissionError: hospital staff.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise VulnsPermissionError(
            "risk assessments and patch deadlines are internal to the manufacturer"
        )


def check_assessor(principal: Principal) -> None:
    """Only the manufacturer's engineers, QA/RA and admins assess and set the patch policy.

    Raises:
        VulnsPermissionError: hospital staff, or manufacturer staff without one of those roles.
    """
    check_reader(principal)
    if not principal.has_any(*ASSESSORS):
        raise VulnsPermissionError("this needs the engineer, qa_ra or admin role")


def _text(what: str, value: str, *, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidAssessmentError(f"the assessment needs a {what}")
    if len(text) > MAX_TEXT:
        raise InvalidAssessmentError(f"the {what} is longer than {MAX_TEXT} characters")
    return text


def _past(what: str, moment: datetime | None, now: datetime) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidAssessmentError(f"the {what} needs a time zone (e.g. 2026-01-15T09:00Z)")
    if moment > now:
        raise InvalidAssessmentError(f"the {what} {moment.isoformat()} is in the future")
    return moment


def iso(moment: datetime | None) -> str | None:
    """``moment`` in ISO 8601, or None."""
    return None if moment is None else moment.isoformat()


def current_terms(session: Session, org_id: int) -> PatchTerms:
    """The organization's declared patch terms, or the defaults (90-day cycle, 30, 60)."""
    row = session.get(PatchPolicy, org_id)
    if row is None:
        return PatchTerms()
    return PatchTerms(row.routine_cycle_days, row.inform_within_days, row.fix_within_days)


# --- fix distribution -------------------------------------------------------------------------


def first_distribution(session: Session, release_pk: int) -> Campaign | None:
    """The first started, not aborted update campaign installing ``release_pk``, while that
    release is released (not withdrawn); None when there is none."""
    return session.scalar(
        select(Campaign)
        .join(Release, Release.id == Campaign.release_pk)
        .where(
            Campaign.release_pk == release_pk,
            Campaign.kind == CampaignKind.UPDATE.value,
            Campaign.started_at.is_not(None),
            Campaign.state != CampaignState.ABORTED.value,
            Release.state == ReleaseState.RELEASED.value,
        )
        .order_by(Campaign.started_at, Campaign.id)
        .limit(1)
    )


def _fix_release(
    session: Session, principal: Principal, vulnerability: Vulnerability, named: tuple[str, str]
) -> Release:
    release = records.get(session, principal, *named)
    if release.state == ReleaseState.WITHDRAWN:
        raise FixReleaseError(f"release {release.release_id} was withdrawn; it fixes nothing")
    if any(f.release_pk == release.id for f in exposed_findings(session, vulnerability.id)):
        raise FixReleaseError(
            f"release {release.release_id} is itself affected by {vulnerability.key}"
        )
    return release


# --- assessing --------------------------------------------------------------------------------


def _snapshot(row: VulnAssessment) -> dict[str, Any]:
    return {
        "risk": row.risk,
        "critical": row.critical,
        "aware_at": iso(row.aware_at),
        "inform_due_at": iso(row.inform_due_at),
        "fix_due_at": iso(row.fix_due_at),
        "fixed_release_pk": row.fixed_release_pk,
        "fix_distributed_at": iso(row.fix_distributed_at),
    }


def _reset_alerts(session: Session, row: VulnAssessment, before: dict[str, Any]) -> list[str]:
    """Drop the overdue alert of every deadline whose due date changed (so that it alerts again
    once the new date passes); the kinds of the alerts dropped."""
    changed = [
        kind.value
        for kind, column in (
            (DeadlineKind.INFORM, "inform_due_at"),
            (DeadlineKind.FIX, "fix_due_at"),
        )
        if before[column] != iso(getattr(row, column))
    ]
    if not changed:
        return []
    dropped = session.scalars(
        delete(DeadlineAlert)
        .where(DeadlineAlert.assessment_id == row.id, DeadlineAlert.kind.in_(changed))
        .returning(DeadlineAlert.kind)
    )
    return sorted(dropped, key=[k.value for k in DeadlineKind].index)


def assess(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    id_or_alias: str,
    *,
    risk: str,
    critical: bool,
    rationale: str,
    compensating_controls: str = "",
    planned_fix: str = "",
    aware_at: datetime | None = None,
    fixed_release: tuple[str, str] | None = None,
    fix_distributed_at: datetime | None = None,
    now: datetime,
) -> VulnAssessment:
    """Assess (or re-assess) a vulnerability for the caller's organization; the deadlines are
    computed from the awareness date and the current patch policy.

    ``aware_at`` defaults to now for a first assessment and to the earlier awareness for a
    re-assessment; it may lie in the past, never in the future, and never later than an earlier
    assessment's. ``fixed_release`` (model, version) names the release that fixes it (None:
    keep the one named before); ``fix_distributed_at`` records when the fix went out (None: keep,
    or take it from the first campaign that started installing the fixed release). The text
    fields are replaced every time.

    Raises:
        VulnsPermissionError: as ``check_assessor``.
        VulnerabilityNotFoundError, InvalidIdentifierError: as ``identity.find_vulnerability``.
        InvalidAssessmentError: unknown risk, no rationale, a text too long, a time without a
            time zone or in the future.
        AwarenessMovedLaterError: ``aware_at`` is later than the earlier assessment's.
        ReleaseNotFoundError: no such release of the caller's organization.
        FixReleaseError: the fixed release was withdrawn or is itself affected.
    """
    check_assessor(principal)
    vulnerability = find_vulnerability(session, id_or_alias)
    parsed_risk = parse_risk(risk)
    texts = {
        "rationale": _text("rationale", rationale, required=True),
        "compensating_controls": _text(
            "compensating controls", compensating_controls, required=False
        ),
        "planned_fix": _text("planned fix", planned_fix, required=False),
    }
    aware = _past("awareness time", aware_at, now)
    distributed = _past("fix distribution time", fix_distributed_at, now)
    release = (
        None
        if fixed_release is None
        else _fix_release(session, principal, vulnerability, fixed_release)
    )
    row = session.scalar(
        select(VulnAssessment)
        .where(
            VulnAssessment.org_id == principal.org_id,
            VulnAssessment.vulnerability_id == vulnerability.id,
        )
        .with_for_update()
    )
    before = None if row is None else _snapshot(row)
    if row is not None and aware is not None and aware > row.aware_at:
        raise AwarenessMovedLaterError(
            f"the manufacturer has been aware of {vulnerability.key} since "
            f"{row.aware_at.isoformat()}; awareness can move earlier, never later"
        )
    if aware is None:
        aware = now if row is None else row.aware_at
    terms = current_terms(session, principal.org_id)
    deadlines = compute_deadlines(parsed_risk, aware, terms)
    fixed_pk = (
        release.id if release is not None else (None if row is None else row.fixed_release_pk)
    )
    distribution = None
    already = row is not None and row.fix_distributed_at is not None
    if distributed is None and not already and fixed_pk is not None:
        distribution = first_distribution(session, fixed_pk)
        distributed = None if distribution is None else distribution.started_at
    if row is None:
        row = VulnAssessment(org_id=principal.org_id, vulnerability_id=vulnerability.id)
        session.add(row)
    row.aware_at = aware
    row.risk = parsed_risk.value
    row.critical = critical
    row.rationale = texts["rationale"]
    row.compensating_controls = texts["compensating_controls"]
    row.planned_fix = texts["planned_fix"]
    row.inform_due_at = deadlines.inform_due_at
    row.fix_due_at = deadlines.fix_due_at
    row.fixed_release_pk = fixed_pk
    if distributed is not None:
        row.fix_distributed_at = distributed
    row.assessed_by = principal.user_id
    row.assessed_at = now
    session.flush()
    reset = [] if before is None else _reset_alerts(session, row, before)
    payload = {
        "vulnerability": vulnerability.key,
        **_snapshot(row),
        **texts,
        "fixed_release": None if row.fixed_release_pk is None else fixed_release_id(session, row),
        "fix_distributed_by_campaign": None if distribution is None else distribution.key,
        "terms": terms.as_dict(),
        "previous": before,
        "alerts_reset": reset,
    }
    action = "vulns.assessed" if before is None else "vulns.reassessed"
    audit.record(
        session,
        NewEvent(principal.actor, principal.org_id, action, OBJECT_TYPE, str(row.id), payload),
    )
    return row


def fixed_release_id(session: Session, row: VulnAssessment) -> str | None:
    """The release id (``IP-100-4.2.0``) of the assessment's fixed release, if it names one."""
    if row.fixed_release_pk is None:
        return None
    return session.get_one(Release, row.fixed_release_pk).release_id


def find_assessment(session: Session, principal: Principal, id_or_alias: str) -> VulnAssessment:
    """The caller's organization's assessment of the vulnerability ``id_or_alias``.

    Raises:
        VulnsPermissionError: hospital staff.
        VulnerabilityNotFoundError, InvalidIdentifierError: as ``identity.find_vulnerability``.
        AssessmentNotFoundError: the vulnerability has not been assessed.
    """
    check_reader(principal)
    vulnerability = find_vulnerability(session, id_or_alias)
    row = session.scalar(
        select(VulnAssessment).where(
            VulnAssessment.org_id == principal.org_id,
            VulnAssessment.vulnerability_id == vulnerability.id,
        )
    )
    if row is None:
        raise AssessmentNotFoundError(
            f"{vulnerability.key} has not been assessed; assess it with 'medfleet vulns assess'"
        )
    return row
