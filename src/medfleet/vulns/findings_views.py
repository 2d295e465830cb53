"""Reading findings: which release's component carries which vulnerability, and why.

Findings are manufacturer-internal: every manufacturer user may read its own manufacturer's
findings (auditors included); hospital users are refused (they read exposure and notices,
which say only what concerns their own devices).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.releases.tables import Release
from medfleet.vulns.errors import InvalidReleaseRefError, VulnsPermissionError
from medfleet.vulns.findings import release_of
from medfleet.vulns.identity import find_vulnerability
from medfleet.vulns.tables import Advisory, Finding, SbomComponent, Vulnerability


@dataclass(frozen=True)
class FindingView:
    """One finding as people and scripts read it."""

    id: int
    vulnerability: str
    severity: str | None
    release_model: str
    release_version: str
    component: str
    component_version: str | None
    purl: str | None
    cpe: str | None
    matched_by: str
    reason: str
    advisory: str | None  # "NVD CVE-2014-0160"; None once the advisory row is gone
    active: bool
    first_matched_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready values (times in ISO 8601)."""
        document = asdict(self)
        document["release"] = f"{self.release_model}/{self.release_version}"
        document["first_matched_at"] = self.first_matched_at.isoformat()
        document["updated_at"] = self.updated_at.isoformat()
        return document


def parse_release_ref(text: str) -> tuple[str, str]:
    """``MODEL/VERSION`` (``IP-100/4.2.0``) as (model, version).

    Raises:
        InvalidReleaseRefError: not of that form.
    """
    model, _, version = text.strip().partition("/")
    if not model.strip() or not version.strip() or "/" in version:
        raise InvalidReleaseRefError(f"{text!r} is not a release as MODEL/VERSION (IP-100/4.2.0)")
    return model.strip(), version.strip()


def list_findings(
    session: Session,
    principal: Principal,
    *,
    model: str | None = None,
    version: str | None = None,
    vulnerability: str | None = None,
    include_inactive: bool = False,
) -> list[FindingView]:
    """The findings of the caller's manufacturer's releases, active ones only by default,
    optionally of one release (``model`` and ``version``) and of one vulnerability (any of its
    ids or aliases). Ordered by vulnerability, release, component.

    Raises:
        VulnsPermissionError: the caller is a hospital user.
        FindingsReleaseNotFoundError: no such release of the caller's manufacturer.
        VulnerabilityNotFoundError: no vulnerability goes by ``vulnerability``.
        InvalidReleaseRefError: only one of ``model`` and ``version`` is given.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise VulnsPermissionError(
            "findings are manufacturer-internal; hospitals read exposure and notices"
        )
    query = (
        select(
            Finding,
            SbomComponent.name,
            SbomComponent.version,
            SbomComponent.purl,
            SbomComponent.cpe,
            Release.model,
            Release.version.label("release_version"),
            Vulnerability.key,
            Vulnerability.severity,
            Advisory.source,
            Advisory.source_id,
        )
        .join(SbomComponent, SbomComponent.id == Finding.component_id)
        .join(Release, Release.id == Finding.release_pk)
        .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
        .outerjoin(Advisory, Advisory.id == Finding.advisory_id)
        .where(Release.org_id == principal.org_id)
    )
    if (model is None) != (version is None):
        raise InvalidReleaseRefError("a release needs both its model and its version")
    if model is not None and version is not None:
        query = query.where(Finding.release_pk == release_of(session, principal, model, version).id)
    if vulnerability is not None:
        query = query.where(
            Finding.vulnerability_id == find_vulnerability(session, vulnerability).id
        )
    if not include_inactive:
        query = query.where(Finding.active.is_(True))
    query = query.order_by(
        Vulnerability.key, Release.model, Release.version_number, SbomComponent.name, Finding.id
    )
    return [_view(row) for row in session.execute(query)]


def _view(row: Any) -> FindingView:
    finding: Finding = row.Finding
    return FindingView(
        id=finding.id,
        vulnerability=row.key,
        severity=row.severity,
        release_model=row.model,
        release_version=row.release_version,
        component=row.name,
        component_version=row.version,
        purl=row.purl,
        cpe=row.cpe,
        matched_by=finding.matched_by,
        reason=finding.reason,
        advisory=None if row.source is None else f"{row.source.upper()} {row.source_id}",
        active=finding.active,
        first_matched_at=finding.first_matched_at,
        updated_at=finding.updated_at,
    )
