"""Hospital notices: what each hospital is told about one vulnerability, and its acknowledgement.

A notice lists the hospital's exposed devices (id, serial, model, installed version, site,
department), the vulnerability (key, aliases, severity, summary), and from the manufacturer's
assessment the interim compensating controls, the planned fix and the fixed release. Issuing
is for the manufacturer's engineers, QA/RA and admins, and needs an assessment first. Each
issue writes one notice per hospital whose content changed since its latest revision (a new
revision; unchanged hospitals get nothing, so issuing again is idempotent); a hospital that
had a notice and no longer runs an affected release gets a revision with no devices. The
first notice ever issued for a vulnerability sets the assessment's ``customers_informed_at``
(the date the 30-day inform deadline checks).

Hospital users see only their own hospital's notices (another's is "not found") and their
admin, biomed or IT staff acknowledge the latest revision; the manufacturer reads every notice
with its acknowledgement state. Issuing and acknowledging are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.accounts.tables import Organization, User
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.vulns.errors import (
    NoticeNeedsAssessmentError,
    NoticeNotFoundError,
    NoticeSupersededError,
    VulnsPermissionError,
)
from medfleet.vulns.exposure import vulnerability_exposure
from medfleet.vulns.exposure_model import Exposure, HospitalExposure
from medfleet.vulns.tables import HospitalNotice, VulnAssessment, Vulnerability

ISSUERS = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)
ACKNOWLEDGERS = (Role.ADMIN, Role.HOSPITAL_BIOMED, Role.HOSPITAL_IT)


@dataclass(frozen=True)
class NoticeView:
    """A notice row with the names a reader needs, and whether it is the latest revision."""

    notice: HospitalNotice
    vulnerability_key: str
    hospital: str
    issued_by: str
    acknowledged_by: str | None
    current: bool


@dataclass(frozen=True)
class NoticeIssue:
    """What one ``issue_notices`` call did: new revisions, and hospitals already up to date."""

    vulnerability_key: str
    issued: tuple[NoticeView, ...]
    unchanged: tuple[NoticeView, ...]


def _hospital_content(
    exposure: Exposure,
    assessment: VulnAssessment,
    fixed_release: str | None,
    hospital: HospitalExposure | None,
) -> dict[str, Any]:
    vulnerability = exposure.vulnerability
    devices: list[dict[str, Any]] = []
    models: set[str] = set()
    if hospital is not None:
        for site in hospital.sites:
            for device in site.devices:
                models.add(device.model)
                devices.append(
                    {
                        "device_id": device.device_id,
                        "serial": device.serial,
                        "model": device.model,
                        "installed_version": device.installed_version,
                        "site_id": site.id,
                        "site": site.name,
                        "department": device.department,
                        "is_test_device": device.is_test_device,
                    }
                )
    return {
        "vulnerability": {
            "key": vulnerability.key,
            "aliases": list(vulnerability.aliases),
            "severity": vulnerability.severity,
            "cvss_score": vulnerability.cvss_score,
            "summary": vulnerability.summary,
        },
        "devices": devices,
        "device_count": len(devices),
        "risk": assessment.risk,
        "compensating_controls": assessment.compensating_controls,
        "planned_fix": assessment.planned_fix,
        "fixed_release": fixed_release,
        "fixed_releases": [
            {"model": fix.model, "release_id": fix.release_id, "version": fix.version}
            for fix in exposure.fixed_releases
            if fix.model in models
        ],
    }


def _latest_revisions(session: Session, vulnerability_id: int) -> dict[int, HospitalNotice]:
    latest: dict[int, HospitalNotice] = {}
    rows = session.scalars(
        select(HospitalNotice)
        .where(HospitalNotice.vulnerability_id == vulnerability_id)
        .order_by(HospitalNotice.org_id, HospitalNotice.revision)
    )
    for row in rows:
        latest[row.org_id] = row
    return latest


def issue_notices(
    session: Session, audit: AuditLog, principal: Principal, id_or_alias: str, now: datetime
) -> NoticeIssue:
    """Issue (or revise) every hospital's notice about the vulnerability ``id_or_alias`` names.

    Raises:
        VulnsPermissionError: not a manufacturer engineer, QA/RA or admin.
        VulnerabilityNotFoundError, InvalidIdentifierError: no such vulnerability.
        NoticeNeedsAssessmentError: the manufacturer has not assessed the vulnerability yet.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*ISSUERS):
        raise VulnsPermissionError(
            "issuing hospital notices needs the manufacturer's engineer, QA/RA or admin role"
        )
    exposure = vulnerability_exposure(session, principal, id_or_alias)
    key = exposure.vulnerability.key
    assessment = session.scalar(
        select(VulnAssessment).where(
            VulnAssessment.org_id == principal.org_id,
            VulnAssessment.vulnerability_id == exposure.vulnerability.id,
        )
    )
    if assessment is None:
        raise NoticeNeedsAssessmentError(
            f"{key} has not been assessed: record the risk assessment (compensating controls, "
            "planned fix) first, then issue the notices"
        )
    fixed_release = None if exposure.assessment is None else exposure.assessment.fixed_release_id
    latest = _latest_revisions(session, exposure.vulnerability.id)
    exposed = {hospital.id: hospital for hospital in exposure.hospitals}
    issued: list[HospitalNotice] = []
    unchanged: list[HospitalNotice] = []
    for org_id in sorted(exposed.keys() | latest.keys()):
        content = _hospital_content(exposure, assessment, fixed_release, exposed.get(org_id))
        previous = latest.get(org_id)
        if previous is None and not content["devices"]:
            continue
        if previous is not None and (
            previous.content == content or not (content["devices"] or previous.content["devices"])
        ):
            unchanged.append(previous)
            continue
        notice = HospitalNotice(
            vulnerability_id=exposure.vulnerability.id,
            org_id=org_id,
            revision=1 if previous is None else previous.revision + 1,
            content=content,
            issued_by=principal.user_id,
            issued_at=now,
        )
        session.add(notice)
        session.flush()
        issued.append(notice)
        audit.record(
            session,
            NewEvent(
                principal.actor,
                org_id,
                "vulns.notice_issued",
                "hospital_notice",
                str(notice.id),
                {
                    "vulnerability": key,
                    "revision": notice.revision,
                    "devices": len(content["devices"]),
                },
            ),
        )
    if issued and assessment.customers_informed_at is None:
        assessment.customers_informed_at = now
        audit.record(
            session,
            NewEvent(
                principal.actor,
                principal.org_id,
                "vulns.customers_informed",
                "vuln_assessment",
                str(assessment.id),
                {"vulnerability": key, "customers_informed_at": now.isoformat()},
            ),
        )
    session.flush()
    return NoticeIssue(key, tuple(_views(session, issued)), tuple(_views(session, unchanged)))


def _views(session: Session, notices: list[HospitalNotice]) -> list[NoticeView]:
    if not notices:
        return []
    issuer, acknowledger = aliased(User), aliased(User)
    rows = session.execute(
        select(HospitalNotice, Vulnerability.key, Organization.name, issuer.username)
        .add_columns(acknowledger.username)
        .join(Vulnerability, Vulnerability.id == HospitalNotice.vulnerability_id)
        .join(Organization, Organization.id == HospitalNotice.org_id)
        .join(issuer, issuer.id == HospitalNotice.issued_by)
        .outerjoin(acknowledger, acknowledger.id == HospitalNotice.acknowledged_by)
        .where(HospitalNotice.id.in_(sorted(n.id for n in notices)))
    )
    named = {row[0].id: row for row in rows}
    latest = _latest_of(session, {(n.vulnerability_id, n.org_id) for n in notices})
    return [
        NoticeView(
            notice=notice,
            vulnerability_key=named[notice.id][1],
            hospital=named[notice.id][2],
            issued_by=named[notice.id][3],
            acknowledged_by=named[notice.id][4],
            current=latest[(notice.vulnerability_id, notice.org_id)] == notice.revision,
        )
        for notice in notices
    ]


def _latest_of(session: Session, subjects: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    vulnerability_ids = sorted({vulnerability for vulnerability, _ in subjects})
    latest: dict[tuple[int, int], int] = {}
    rows = session.execute(
        select(
            HospitalNotice.vulnerability_id, HospitalNotice.org_id, HospitalNotice.revision
        ).where(HospitalNotice.vulnerability_id.in_(vulnerability_ids))
    )
    for vulnerability, org, revision in rows:
        if (vulnerability, org) in subjects:
            latest[(vulnerability, org)] = max(revision, latest.get((vulnerability, org), 0))
    return latest


def list_notices(session: Session, principal: Principal) -> list[NoticeView]:
    """Every notice the caller may read, newest first: its own hospital's, or all for staff."""
    query = select(HospitalNotice).order_by(HospitalNotice.id.desc())
    if principal.org_kind is not OrgKind.MANUFACTURER:
        query = query.where(HospitalNotice.org_id == principal.org_id)
    return _views(session, list(session.scalars(query)))


def _visible(session: Session, principal: Principal, notice_id: int) -> HospitalNotice:
    notice = session.get(HospitalNotice, notice_id)
    if notice is None or not principal.can_see_org(notice.org_id):
        raise NoticeNotFoundError(f"no notice {notice_id}")
    return notice


def get_notice(session: Session, principal: Principal, notice_id: int) -> NoticeView:
    """One notice, if the caller may read it.

    Raises:
        NoticeNotFoundError: no such notice, or another hospital's.
    """
    return _views(session, [_visible(session, principal, notice_id)])[0]


def acknowledge(
    session: Session, audit: AuditLog, principal: Principal, notice_id: int, now: datetime
) -> NoticeView:
    """The hospital confirms it has read its notice's latest revision (again: no change).

    Raises:
        NoticeNotFoundError: no such notice, or another hospital's.
        VulnsPermissionError: not the hospital's admin, biomed or IT staff.
        NoticeSupersededError: a later revision exists; acknowledge that one.
    """
    notice = _visible(session, principal, notice_id)
    if principal.org_kind is not OrgKind.HOSPITAL or not principal.has_any(*ACKNOWLEDGERS):
        raise VulnsPermissionError(
            "acknowledging a notice needs the hospital's admin, biomed or IT role"
        )
    view = _views(session, [notice])[0]
    if not view.current:
        raise NoticeSupersededError(
            f"notice {notice_id} (revision {notice.revision}) was superseded by a later "
            "revision; read and acknowledge the latest one"
        )
    if notice.acknowledged_at is not None:
        return view
    notice.acknowledged_by = principal.user_id
    notice.acknowledged_at = now
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            notice.org_id,
            "vulns.notice_acknowledged",
            "hospital_notice",
            str(notice.id),
            {"vulnerability": view.vulnerability_key, "revision": notice.revision},
        ),
    )
    return _views(session, [notice])[0]
