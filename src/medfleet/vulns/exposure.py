"""Exposure to one vulnerability: affected releases, the devices running them, hospitals, sites.

A release is affected when it has a finding for the vulnerability that still counts
(``vex_service.exposed_findings``: active and not ruled out by VEX). A device is exposed when it
runs an affected release (its model and installed version are the release's; test devices
included and marked). Counts per hospital, site and release are computed in SQL (GROUP BY), so
they stay exact and fast for millions of devices; device rows are fetched as plain columns, at
most ``device_limit`` of them. The fixed release of a model is the lowest released (not
withdrawn) release above every affected release of that model whose SBOM is imported and that
carries no counting finding for the vulnerability.

Scope: manufacturer staff see every hospital. A hospital user sees only its own devices, sites
and counts, only the releases its devices run, and of the assessment only what a customer is
told (risk, compensating controls, planned fix); another hospital is never visible, not even
through a total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Department, Organization, Site
from medfleet.fleet.tables import Device
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.vulns.errors import InvalidExposureRequestError
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
    Sbom,
    SbomComponent,
    VulnAssessment,
    Vulnerability,
    VulnerabilityAlias,
)
from medfleet.vulns.vex_service import exposed_findings


@dataclass(frozen=True)
class _Group:
    org_id: int
    site_id: int | None
    release_pk: int
    is_test_device: bool
    count: int


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


def _in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    if principal.org_kind is OrgKind.MANUFACTURER:
        return []
    return [Device.org_id == principal.org_id]


def _groups(session: Session, principal: Principal, releases: Sequence[Release]) -> list[_Group]:
    if not releases:
        return []
    pk_of: dict[tuple[str, str | None], int] = {
        (release.model, release.version): release.id for release in releases
    }
    # Two IN lists filter faster than a join on (model, version) and stay fast for thousands of
    # releases; they also admit pairs that are no affected release, which are dropped below.
    rows = session.execute(
        select(
            Device.org_id,
            Device.site_id,
            Device.model,
            Device.installed_version,
            Device.is_test_device,
            func.count(),
        )
        .where(
            Device.model.in_(sorted({model for model, _ in pk_of})),
            Device.installed_version.in_(sorted({version for _, version in pk_of})),
            *_in_scope(principal),
        )
        .group_by(
            Device.org_id,
            Device.site_id,
            Device.model,
            Device.installed_version,
            Device.is_test_device,
        )
    )
    groups = []
    for org, site, model, version, test, count in rows:
        pk = pk_of.get((model, version))
        if pk is not None:
            groups.append(_Group(org, site, pk, bool(test), count))
    return groups


def _device_rows(
    session: Session, principal: Principal, release_pks: Collection[int], limit: int | None
) -> dict[tuple[int, int | None], list[ExposedDevice]]:
    by_site: dict[tuple[int, int | None], list[ExposedDevice]] = defaultdict(list)
    if limit == 0 or not release_pks:
        return by_site
    query = (
        select(
            Device.org_id,
            Device.site_id,
            Device.device_id,
            Device.serial,
            Device.model,
            Device.installed_version,
            Department.name,
            Device.is_test_device,
        )
        .join(
            Release,
            and_(Release.model == Device.model, Release.version == Device.installed_version),
        )
        .outerjoin(Department, Department.id == Device.department_id)
        .where(Release.id.in_(sorted(release_pks)), *_in_scope(principal))
    )
    if limit is not None:
        # The registration order picks which devices a limited listing shows; it lets the
        # database stop early instead of sorting every exposed device.
        query = query.order_by(Device.id).limit(limit)
    for org, site, device_id, serial, model, version, department, test in session.execute(query):
        by_site[(org, site)].append(
            ExposedDevice(device_id, serial, model, str(version), department, bool(test))
        )
    return by_site


def _components(
    session: Session, component_ids: Iterable[int], findings: dict[int, tuple[str, str]]
) -> dict[int, list[ExposedComponent]]:
    per_release: dict[int, list[ExposedComponent]] = defaultdict(list)
    rows = session.execute(
        select(
            SbomComponent.id,
            SbomComponent.release_pk,
            SbomComponent.name,
            SbomComponent.version,
            SbomComponent.purl,
            SbomComponent.cpe,
        ).where(SbomComponent.id.in_(sorted(component_ids)))
    )
    for pk, release_pk, name, version, purl, cpe in rows:
        matched_by, reason = findings[pk]
        per_release[release_pk].append(
            ExposedComponent(name, version, purl, cpe, matched_by, reason)
        )
    for components in per_release.values():
        components.sort(key=lambda c: (c.name, c.version or "", c.purl or c.cpe or ""))
    return per_release


def _affected_releases(
    session: Session, principal: Principal, vulnerability_id: int
) -> list[tuple[Release, list[ExposedComponent]]]:
    findings = exposed_findings(session, vulnerability_id)
    if not findings:
        return []
    reasons = {f.component_id: (f.matched_by, f.reason) for f in findings}
    components = _components(session, reasons.keys(), reasons)
    query = select(Release).where(Release.id.in_(sorted({f.release_pk for f in findings})))
    if principal.org_kind is OrgKind.MANUFACTURER:
        query = query.where(Release.org_id == principal.org_id)
    releases = session.scalars(query.order_by(Release.model, Release.version_number))
    return [(release, components.get(release.id, [])) for release in releases]


def _fixed_release(
    session: Session, model: str, affected: Sequence[Release], all_affected_pks: set[int]
) -> FixedRelease:
    highest = max(affected, key=lambda release: release.version_number)
    has_sbom = exists().where(Sbom.release_pk == Release.id)
    fix = session.scalar(
        select(Release)
        .where(
            Release.org_id == highest.org_id,
            Release.model == model,
            Release.state == ReleaseState.RELEASED.value,
            Release.withdrawn_at.is_(None),
            Release.version_number > highest.version_number,
            Release.id.not_in(all_affected_pks),
            has_sbom,
        )
        .order_by(Release.version_number)
        .limit(1)
    )
    if fix is None:
        return FixedRelease(model, highest.version, None, None, None)
    return FixedRelease(model, highest.version, fix.release_id, fix.version, fix.version_number)


def _names(
    session: Session, table: type[Organization] | type[Site], ids: Collection[int]
) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(table.id, table.name).where(table.id.in_(sorted(ids))))
    return dict(rows.all())


def _hospitals(
    session: Session,
    groups: list[_Group],
    devices: dict[tuple[int, int | None], list[ExposedDevice]],
) -> tuple[HospitalExposure, ...]:
    counts: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    for group in groups:
        total = counts[(group.org_id, group.site_id)]
        total[0] += group.count
        total[1] += group.count if group.is_test_device else 0
    org_names = _names(session, Organization, {org for org, _ in counts})
    site_names = _names(session, Site, {site for _, site in counts if site is not None})
    sites_of: dict[int, list[SiteExposure]] = defaultdict(list)
    for (org, site), (count, tests) in counts.items():
        listed = sorted(devices.get((org, site), []), key=lambda d: (d.serial, d.device_id))
        name = None if site is None else site_names[site]
        sites_of[org].append(SiteExposure(site, name, count, tests, tuple(listed)))
    hospitals = []
    for org, sites in sites_of.items():
        sites.sort(key=lambda s: (s.name is None, s.name or "", s.id or 0))
        hospitals.append(
            HospitalExposure(
                id=org,
                name=org_names[org],
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
    affected = _affected_releases(session, principal, vulnerability.id)
    all_pks = {release.id for release, _ in affected}
    groups = _groups(session, principal, [release for release, _ in affected])
    per_release: dict[int, int] = defaultdict(int)
    for group in groups:
        per_release[group.release_pk] += group.count
    shown = [(r, c) for r, c in affected if manufacturer or per_release[r.id] > 0]
    by_model: dict[str, list[Release]] = defaultdict(list)
    for release, _ in affected:
        by_model[release.model].append(release)
    fixed = tuple(
        _fixed_release(session, model, by_model[model], all_pks)
        for model in sorted({release.model for release, _ in shown})
    )
    devices = _device_rows(session, principal, all_pks, device_limit)
    hospitals = _hospitals(session, groups, devices)
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
                device_count=per_release[release.id],
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
