"""Merging vulnerabilities that turned out to be one (a CVE and its GHSA imported apart).

Everything that names a merged-away vulnerability is moved to the survivor, then the merged-away
row is deleted, all in the caller's transaction, and one ``vulns.vulnerabilities_merged`` audit
event says what happened:

- aliases, advisories, advisory packages and VEX statements are repointed as they are;
- findings are unique per (release, component, vulnerability): where both had a finding for the
  same component the survivor's row is kept (its ``first_matched_at`` the earlier of the two,
  active if either was) and the duplicate dropped;
- assessments are unique per (manufacturer, vulnerability): the one with the earlier awareness
  date is kept, because patch deadlines count from the earliest awareness; the other is dropped
  and the event names both dates. Deadline alerts follow their assessment; a dropped
  assessment's alert moves to the kept one unless it already has one of that kind;
- hospital notices keep every revision: per hospital they are renumbered 1, 2, … in the order
  they were issued.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.vulns.tables import (
    Advisory,
    AdvisoryPackage,
    DeadlineAlert,
    Finding,
    HospitalNotice,
    VexStatement,
    VulnAssessment,
    Vulnerability,
    VulnerabilityAlias,
)

MERGED_EVENT = "vulns.vulnerabilities_merged"


@dataclass(frozen=True)
class MergeReport:
    """What one merge did."""

    kept: str
    kept_id: int
    merged: tuple[str, ...]
    findings_dropped: int
    assessments: tuple[dict[str, Any], ...]
    notices_moved: int

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the audit event's payload)."""
        return {
            "kept": self.kept,
            "merged": list(self.merged),
            "findings_dropped": self.findings_dropped,
            "assessments": list(self.assessments),
            "notices_moved": self.notices_moved,
        }


def merge_vulnerabilities(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    survivor: Vulnerability,
    others: Sequence[Vulnerability],
) -> MergeReport:
    """Merge ``others`` into ``survivor`` (see the module docstring) and audit it."""
    other_ids = [other.id for other in others]
    session.flush()
    for table in (VulnerabilityAlias, Advisory, AdvisoryPackage, VexStatement):
        session.execute(
            update(table)
            .where(table.vulnerability_id.in_(other_ids))
            .values(vulnerability_id=survivor.id)
            .execution_options(synchronize_session="fetch")
        )
    involved = [survivor.id, *other_ids]
    report = MergeReport(
        kept=survivor.key,
        kept_id=survivor.id,
        merged=tuple(other.key for other in others),
        findings_dropped=_merge_findings(session, survivor.id, involved),
        assessments=tuple(_merge_assessments(session, survivor.id, involved)),
        notices_moved=_merge_notices(session, survivor.id, involved),
    )
    for other in others:
        session.delete(other)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            MERGED_EVENT,
            "vulnerability",
            survivor.key,
            report.as_dict(),
        ),
    )
    return report


def _merge_findings(session: Session, survivor_id: int, involved: list[int]) -> int:
    rows = session.scalars(select(Finding).where(Finding.vulnerability_id.in_(involved))).all()
    ordered = sorted(rows, key=lambda f: (f.vulnerability_id != survivor_id, f.first_matched_at))
    kept: dict[tuple[int, int], Finding] = {}
    dropped = 0
    for finding in ordered:
        slot = (finding.release_pk, finding.component_id)
        holder = kept.setdefault(slot, finding)
        if holder is finding:
            continue
        holder.first_matched_at = min(holder.first_matched_at, finding.first_matched_at)
        holder.active = holder.active or finding.active
        session.delete(finding)
        dropped += 1
    session.flush()
    for finding in kept.values():
        finding.vulnerability_id = survivor_id
    session.flush()
    return dropped


def _merge_assessments(
    session: Session, survivor_id: int, involved: list[int]
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(VulnAssessment).where(VulnAssessment.vulnerability_id.in_(involved))
    ).all()
    by_org: dict[int, list[VulnAssessment]] = {}
    for row in rows:
        by_org.setdefault(row.org_id, []).append(row)
    decisions: list[dict[str, Any]] = []
    for org_id, assessments in sorted(by_org.items()):
        assessments.sort(key=lambda a: (a.aware_at, a.vulnerability_id != survivor_id, a.id))
        keep, drop = assessments[0], assessments[1:]
        for dropped in drop:
            _move_alerts(session, dropped.id, keep.id)
            decisions.append(
                {
                    "org_id": org_id,
                    "kept_assessment": keep.id,
                    "kept_aware_at": keep.aware_at.isoformat(),
                    "dropped_assessment": dropped.id,
                    "dropped_aware_at": dropped.aware_at.isoformat(),
                    "reason": "the earlier awareness date is kept",
                }
            )
            session.delete(dropped)
    session.flush()
    for org_rows in by_org.values():
        org_rows[0].vulnerability_id = survivor_id
    session.flush()
    return decisions


def _move_alerts(session: Session, from_assessment: int, to_assessment: int) -> None:
    have = set(
        session.scalars(
            select(DeadlineAlert.kind).where(DeadlineAlert.assessment_id == to_assessment)
        )
    )
    for alert in session.scalars(
        select(DeadlineAlert).where(DeadlineAlert.assessment_id == from_assessment)
    ):
        if alert.kind in have:
            session.delete(alert)
        else:
            alert.assessment_id = to_assessment
            have.add(alert.kind)
    session.flush()


def _merge_notices(session: Session, survivor_id: int, involved: list[int]) -> int:
    rows = session.scalars(
        select(HospitalNotice).where(HospitalNotice.vulnerability_id.in_(involved))
    ).all()
    by_org: dict[int, list[HospitalNotice]] = {}
    for row in rows:
        by_org.setdefault(row.org_id, []).append(row)
    renumbered = [
        sorted(notices, key=lambda n: (n.issued_at, n.id))
        for notices in by_org.values()
        if any(n.vulnerability_id != survivor_id for n in notices)
    ]
    # Two passes: unique (vulnerability, hospital, revision) must hold after every statement.
    for notices in renumbered:
        for index, notice in enumerate(notices, start=1):
            notice.vulnerability_id = survivor_id
            notice.revision = -index
    session.flush()
    for notices in renumbered:
        for notice in notices:
            notice.revision = -notice.revision
    session.flush()
    return sum(len(notices) for notices in renumbered)
