"""Exposure to one vulnerability: affected releases, the devices running them, hospitals, sites.

A release is affected when it has a finding for the vulnerability that still counts (active
and not ruled out by VEX, as ``vex_service.exposed_findings`` decides). A device is exposed when
it runs an affected release (its model and installed version are the release's, linked by the
database as ``device.installed_release_pk``; test devices included and marked). Counts per
release and per hospital and site are computed in SQL (``exposure_devices``), so they stay
exact and fast for millions of devices; on PostgreSQL they are counted on a second connection
in the same snapshot (``db.side_read``) while this one reads the findings and releases.

At most ``device_limit`` device rows are listed: release by release (model, version), then in
registration order. The fixed release of a model is the lowest released (not withdrawn) release
above every affected release of that model whose SBOM is imported and that carries no counting
finding for the vulnerability.

Scope: manufacturer staff see every hospital. A hospital user sees only its own devices, sites
and counts, only the releases its devices run, and of the assessment only what a customer is
told (risk, compensating controls, planned fix); another hospital is never visible, not even
through a total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.db.planner import without
from medfleet.db.side_read import start_side_read
from medfleet.releases.model import ReleaseState, release_id
from medfleet.releases.tables import Release
from medfleet.vulns.errors import InvalidExposureRequestError
from medfleet.vulns.exposure_devices import (
    SiteCount,
    SiteKey,
    count_candidates,
    device_rows,
    exact_counts,
)
from medfleet.vulns.exposure_model import (
    AffectedRelease,
    AssessmentDeadlines,
    AssessmentView,
    ExposedComponent,
    ExposedDevice,
    Exposure,
    FixedRelease,
    HospitalExposure,
    SiteExposure,
    VulnerabilitySummary,
)
from medfleet.vulns.identity import find_vulnerability
from medfleet.vulns.tables import (
    Finding,
    Sbom,
    SbomComponent,
    VulnAssessment,
    Vulnerability,
    VulnerabilityAlias,
)
from medfleet.vulns.vex_service import in_force_for


@dataclass(frozen=True)
class _ReleaseRow:
    """The columns of an affected release the answer needs (no ORM object per release)."""

    id: int
    org_id: int
    model: str
    version: str
    version_number: int
    state: str

    @property
    def release_id(self) -> str:
        """The release's id, as image metadata names it (``IP-100-4.2.0``)."""
        return release_id(self.model, self.version)


def summarize_vulnerability(session: Session, vulnerability: Vulnerability) -> VulnerabilitySummary:
    """The vulnerability with all its aliases (sorted)."""
    aliases = session.scalars(
        select(VulnerabilityAlias.alias)
        .where(VulnerabilityAlias.vulnerability_id == vulnerability.id)
        .order_by(VulnerabilityAlias.alias)
    )
    return VulnerabilitySummary(
        id=vulnerability.id,
        key=vulnerability.key,
        aliases=tuple(aliases),
        severity=vulnerability.severity,
        cvss_score=vulnerability.cvss_score,
        summary=vulnerability.summary,
        withdrawn=vulnerability.withdrawn_at is not None,
    )


def _listed_releases(
    affected: Sequence[_ReleaseRow], per_release: dict[int, int], limit: int | None
) -> list[int]:
    """The affected releases whose devices a listing of ``limit`` devices shows: in the order
    of ``affected`` (model, version), as many as it takes to fill the listing."""
    chosen, listed = [], 0
    for release in affected:
        if limit is not None and listed >= limit:
            break
        if per_release.get(release.id, 0):
            chosen.append(release.id)
            listed += per_release[release.id]
    return chosen


_RELEASE_COLUMNS = (
    Release.id,
    Release.org_id,
    Release.model,
    Release.version,
    Release.version_number,
    Release.state,
)


def _affected_releases(
    session: Session, principal: Principal, vulnerability_id: int
) -> list[tuple[_ReleaseRow, list[ExposedComponent]]]:
    """The releases (a manufacturer's own only) with an active finding for the vulnerability
    that VEX does not rule out (the rule of ``vex_service.exposed_findings``), each with those
    findings' components; by model and version. One query of plain columns."""
    in_force = in_force_for(session, vulnerability_id)
    query = (
        select(
            *_RELEASE_COLUMNS,
            Finding.matched_by,
            Finding.reason,
            SbomComponent.name,
            SbomComponent.version,
            SbomComponent.purl,
            SbomComponent.cpe,
            SbomComponent.bom_ref,
        )
        .join(Release, Release.id == Finding.release_pk)
        .join(SbomComponent, SbomComponent.id == Finding.component_id)
        .where(Finding.vulnerability_id == vulnerability_id, Finding.active.is_(True))
    )
    if principal.org_kind is OrgKind.MANUFACTURER:
        query = query.where(Release.org_id == principal.org_id)
    affected: dict[int, tuple[_ReleaseRow, list[ExposedComponent]]] = {}
    # Parallel workers would only take the core that the device count (db.side_read) is on.
    with without(session, "parallel"):
        rows = session.connection().execute(query).all()
    vex_applies = bool(in_force.statements())
    for row in rows:
        pk, org, model, version, number, state, matched_by, reason = row[:8]
        name, component_version, purl, cpe, bom_ref = row[8:]
        if vex_applies and not in_force.exposes(pk, purl or bom_ref, vulnerability_id):
            continue
        if pk not in affected:
            affected[pk] = (_ReleaseRow(pk, org, model, version, number, state), [])
        affected[pk][1].append(
            ExposedComponent(name, component_version, purl, cpe, matched_by, reason)
        )
    for _, components in affected.values():
        components.sort(key=lambda c: (c.name, c.version or "", c.purl or c.cpe or ""))
    return sorted(affected.values(), key=lambda item: _release_order(item[0]))


def _release_order(release: _ReleaseRow) -> tuple[str, int, int]:
    return release.model, release.version_number, release.id


def _fixed_releases(
    session: Session, affected: Sequence[_ReleaseRow], models: Collection[str]
) -> tuple[FixedRelease, ...]:
    """Per model in ``models``: its highest affected release and the lowest released, not
    withdrawn release above it with an imported SBOM that is not affected itself."""
    highest: dict[tuple[int, str], _ReleaseRow] = {}
    for release in affected:
        key = (release.org_id, release.model)
        if key not in highest or release.version_number > highest[key].version_number:
            highest[key] = release
    wanted = {key: row for key, row in highest.items() if key[1] in models}
    if not wanted:
        return ()
    affected_pks = {release.id for release in affected}
    above_highest = or_(
        *(
            and_(
                Release.org_id == org,
                Release.model == model,
                Release.version_number > row.version_number,
            )
            for (org, model), row in wanted.items()
        )
    )
    candidates = session.execute(
        select(
            Release.id,
            Release.org_id,
            Release.model,
            Release.version,
            Release.version_number,
        )
        .where(
            above_highest,
            Release.state == ReleaseState.RELEASED.value,
            Release.withdrawn_at.is_(None),
            exists().where(Sbom.release_pk == Release.id),
        )
        .order_by(Release.version_number.desc())
    )
    fix: dict[tuple[int, str], tuple[str, int]] = {}
    for pk, org, model, version, number in candidates:
        if pk not in affected_pks:
            fix[(org, model)] = (version, number)  # descending: the lowest stays
    fixed = []
    for key, row in sorted(wanted.items(), key=lambda item: (item[0][1], item[0][0])):
        if key in fix:
            version, number = fix[key]
            fixed.append(
                FixedRelease(
                    row.model, row.version, release_id(row.model, version), version, number
                )
            )
        else:
            fixed.append(FixedRelease(row.model, row.version, None, None, None))
    return tuple(fixed)


def _device_order(device: ExposedDevice) -> tuple[str, str]:
    return device.serial, device.device_id


def _hospitals(
    per_site: dict[SiteKey, SiteCount], devices: dict[SiteKey, list[ExposedDevice]]
) -> tuple[HospitalExposure, ...]:
    sites_of: dict[int, list[SiteExposure]] = defaultdict(list)
    names: dict[int, str] = {}
    for (org, site), counted in per_site.items():
        listed = devices.get((org, site))
        shown = () if listed is None else tuple(sorted(listed, key=_device_order))
        names[org] = counted.hospital
        sites_of[org].append(
            SiteExposure(site, counted.site, counted.devices, counted.test_devices, shown)
        )
    hospitals = []
    for org, sites in sites_of.items():
        sites.sort(key=lambda s: (s.name is None, s.name or "", s.id or 0))
        hospitals.append(
            HospitalExposure(
                id=org,
                name=names[org],
                device_count=sum(s.device_count for s in sites),
                test_device_count=sum(s.test_device_count for s in sites),
                sites=tuple(sites),
            )
        )
    hospitals.sort(key=lambda h: (h.name, h.id))
    return tuple(hospitals)


def _assessment(
    session: Session, principal: Principal, vulnerability_id: int, visible: bool
) -> AssessmentView | None:
    if not visible:
        return None
    manufacturer = principal.org_kind is OrgKind.MANUFACTURER
    query = select(VulnAssessment).where(VulnAssessment.vulnerability_id == vulnerability_id)
    if manufacturer:
        query = query.where(VulnAssessment.org_id == principal.org_id)
    row = session.scalars(query.order_by(VulnAssessment.id).limit(1)).first()
    if row is None:
        return None
    fixed = None if row.fixed_release_pk is None else session.get(Release, row.fixed_release_pk)
    internal = None
    if manufacturer:
        internal = AssessmentDeadlines(
            critical=row.critical,
            rationale=row.rationale,
            aware_at=row.aware_at,
            inform_due_at=row.inform_due_at,
            fix_due_at=row.fix_due_at,
            customers_informed_at=row.customers_informed_at,
            fix_distributed_at=row.fix_distributed_at,
            assessed_at=row.assessed_at,
        )
    return AssessmentView(
        risk=row.risk,
        compensating_controls=row.compensating_controls,
        planned_fix=row.planned_fix,
        fixed_release_id=None if fixed is None else fixed.release_id,
        internal=internal,
    )


def vulnerability_exposure(
    session: Session, principal: Principal, id_or_alias: str, *, device_limit: int | None = None
) -> Exposure:
    """Who is exposed to the vulnerability ``id_or_alias`` names, within the caller's scope.

    Counts are always complete; at most ``device_limit`` device rows are listed (None: all).
    A hospital user gets only its own hospital, and only the releases its devices run.

    Raises:
        VulnerabilityNotFoundError: no vulnerability goes by ``id_or_alias``.
        InvalidIdentifierError: ``id_or_alias`` is not an id.
        InvalidExposureRequestError: a negative ``device_limit``.
    """
    if device_limit is not None and device_limit < 0:
        raise InvalidExposureRequestError("the device limit cannot be negative")
    vulnerability = find_vulnerability(session, id_or_alias)
    manufacturer = principal.org_kind is OrgKind.MANUFACTURER
    # The device count is the longest step; it runs beside the findings and releases read.
    counting = start_side_read(
        session, lambda connection: count_candidates(connection, principal, vulnerability.id)
    )
    affected = _affected_releases(session, principal, vulnerability.id)
    pks = {release.id for release, _ in affected}
    counts = exact_counts(session.connection(), principal, pks, counting.result())
    per_release = counts.per_release
    shown = [(r, c) for r, c in affected if manufacturer or per_release.get(r.id, 0) > 0]
    fixed = _fixed_releases(
        session, [release for release, _ in affected], {release.model for release, _ in shown}
    )
    listed = _listed_releases([release for release, _ in shown], per_release, device_limit)
    devices = device_rows(session, principal, listed, device_limit)
    hospitals = _hospitals(counts.per_site, devices)
    device_count = sum(h.device_count for h in hospitals)
    return Exposure(
        vulnerability=summarize_vulnerability(session, vulnerability),
        releases=tuple(
            AffectedRelease(
                release_id=release.release_id,
                model=release.model,
                version=release.version,
                version_number=release.version_number,
                state=release.state,
                components=tuple(components),
                device_count=per_release.get(release.id, 0),
            )
            for release, components in shown
        ),
        fixed_releases=fixed,
        hospitals=hospitals,
        assessment=_assessment(session, principal, vulnerability.id, manufacturer or bool(shown)),
        device_count=device_count,
        test_device_count=sum(h.test_device_count for h in hospitals),
        devices_listed=sum(len(s.devices) for h in hospitals for s in h.sites),
        device_limit=device_limit,
    )
