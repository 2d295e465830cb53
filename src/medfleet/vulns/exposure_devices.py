"""The device side of exposure: counts and listings of the devices running given releases.

A device runs a release when its model and installed version are the release's; the database
keeps that link as ``device.installed_release_pk`` (migration 0015). Everything is counted in
SQL from the index on it, which carries hospital, site and the test flag; release id sets go to
PostgreSQL as one array (``db.id_sets``). ``in_scope`` narrows a hospital user to its own
devices.

``count_candidates`` needs only the vulnerability: it counts the devices of every release with
an active finding, before VEX is applied, so that it can start at once beside the rest of the
query. ``exact_counts`` then narrows those counts to the releases VEX leaves affected, exactly
(a device runs one release): unchanged when no release was ruled out, less the ruled-out
releases' devices when they are the fewer, else counted afresh.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Subquery, func, select, tuple_
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Department, Organization, Site
from medfleet.db.dialect import on_postgresql
from medfleet.db.id_sets import one_of
from medfleet.db.planner import without
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.vulns.exposure_model import ExposedDevice
from medfleet.vulns.tables import Finding


def in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """No condition for manufacturer staff; a hospital user's own devices only."""
    if principal.org_kind is OrgKind.MANUFACTURER:
        return []
    return [Device.org_id == principal.org_id]


class SiteCount(NamedTuple):
    """The exposed devices at one site (or of one hospital without a site), and its names."""

    hospital: str
    site: str | None
    devices: int
    test_devices: int


SiteKey = tuple[int, int | None]  # (hospital id, site id or None)


@dataclass(frozen=True)
class DeviceCounts:
    """Exposed devices per affected release and per (hospital, site); releases and sites
    without exposed devices are absent."""

    per_release: dict[int, int]
    per_site: dict[SiteKey, SiteCount]

    def without(self, removed: DeviceCounts) -> DeviceCounts:
        """These counts less ``removed``, the counts of some of the same releases' devices
        (exact: a device runs one release)."""
        per_site = dict(self.per_site)
        for key, gone in removed.per_site.items():
            kept = per_site.pop(key)
            if kept.devices > gone.devices:
                per_site[key] = kept._replace(
                    devices=kept.devices - gone.devices,
                    test_devices=kept.test_devices - gone.test_devices,
                )
        per_release = {
            pk: count for pk, count in self.per_release.items() if pk not in removed.per_release
        }
        return DeviceCounts(per_release, per_site)


@dataclass(frozen=True)
class CandidateCounts:
    """The releases with an active finding for a vulnerability, within the caller's scope,
    before VEX is applied; and the devices running them, counted."""

    release_pks: frozenset[int]
    counts: DeviceCounts


def count_candidates(
    connection: Connection, principal: Principal, vulnerability_id: int
) -> CandidateCounts:
    """Count the devices running a release with an active finding for the vulnerability
    (a manufacturer's own releases only). Needs nothing the caller computes, so it can run
    beside the rest of the exposure query (``db.side_read``); ``exact_counts`` then narrows
    it to the releases VEX leaves affected."""
    query = select(Finding.release_pk).where(
        Finding.vulnerability_id == vulnerability_id, Finding.active.is_(True)
    )
    if principal.org_kind is OrgKind.MANUFACTURER:
        query = query.join(Release, Release.id == Finding.release_pk).where(
            Release.org_id == principal.org_id
        )
    release_pks = frozenset(connection.scalars(query.distinct()))
    return CandidateCounts(release_pks, device_counts(connection, principal, release_pks))


def exact_counts(
    connection: Connection,
    principal: Principal,
    release_pks: Collection[int],
    candidates: CandidateCounts,
) -> DeviceCounts:
    """The device counts of exactly ``release_pks`` (the affected releases), from the
    candidates' counts: as they are when the sets agree; less the devices of the releases
    VEX ruled out when those are the fewer; otherwise counted afresh."""
    affected = frozenset(release_pks)
    ruled_out = candidates.release_pks - affected
    if not affected <= candidates.release_pks:  # a finding newer than the candidates' snapshot
        return device_counts(connection, principal, affected)
    if not ruled_out:
        return candidates.counts
    per_release = candidates.counts.per_release
    ruled_out_devices = sum(per_release.get(pk, 0) for pk in ruled_out)
    if 2 * ruled_out_devices > sum(per_release.values()):
        return device_counts(connection, principal, affected)
    return candidates.counts.without(device_counts(connection, principal, ruled_out))


def device_counts(
    connection: Connection, principal: Principal, release_pks: Collection[int]
) -> DeviceCounts:
    """The devices running one of these releases, within the caller's scope, counted per
    release and per hospital and site. On PostgreSQL in one pass over the index on the
    installed release (``GROUPING SETS``: per release in index order, per site hashed)."""
    if not release_pks:
        return DeviceCounts({}, {})
    runs = [one_of(connection, Device.installed_release_pk, release_pks), *in_scope(principal)]
    tests = func.count().filter(Device.is_test_device.is_(True))
    if not on_postgresql(connection):
        releases = connection.execute(
            select(Device.installed_release_pk, func.count())
            .where(*runs)
            .group_by(Device.installed_release_pk)
        )
        sites = (
            select(Device.org_id, Device.site_id, func.count(), tests)
            .where(*runs)
            .group_by(Device.org_id, Device.site_id)
            .subquery()
        )
        return DeviceCounts(
            {pk: count for pk, count in releases if pk is not None},
            {key: count for _, key, count in _named(connection, sites)},
        )
    # PostgreSQL would rather filter a sequential scan and hash both groupings; on a million
    # exposed devices the index-only scan, grouped per release as it comes, is about 1.7 times
    # faster (bench/match.py, bench/README.md).
    counted = (
        select(
            Device.org_id,
            Device.site_id,
            func.count(),
            tests,
            func.grouping(Device.installed_release_pk),
            Device.installed_release_pk,
        )
        .where(*runs)
        .group_by(
            func.grouping_sets(
                tuple_(Device.installed_release_pk), tuple_(Device.org_id, Device.site_id)
            )
        )
        .subquery()
    )
    per_release: dict[int, int] = {}
    per_site: dict[SiteKey, SiteCount] = {}
    with without(connection, "seqscan"):
        for (per_site_row, release_pk), key, count in _named(connection, counted):
            if per_site_row:
                per_site[key] = count
            elif release_pk is not None:
                per_release[release_pk] = count.devices
    return DeviceCounts(per_release, per_site)


def _named(
    connection: Connection, counted: Subquery
) -> Iterator[tuple[tuple[Any, ...], SiteKey, SiteCount]]:
    """The rows of ``counted`` (hospital id, site id, devices, test devices, then any other
    columns), with the hospital's and the site's names: (the other columns, key, count)."""
    org, site, devices, test_devices, *rest = counted.c
    rows = connection.execute(
        select(org, site, Organization.name, Site.name, devices, test_devices, *rest)
        .outerjoin(Organization, Organization.id == org)
        .outerjoin(Site, Site.id == site)
    )
    for org_id, site_id, hospital, site_name, count, tests, *other in rows:
        yield tuple(other), (org_id, site_id), SiteCount(hospital, site_name, count, tests)


def device_rows(
    session: Session, principal: Principal, release_pks: Collection[int], limit: int | None
) -> dict[tuple[int, int | None], list[ExposedDevice]]:
    """Devices running these releases, release by release (model, version), then in the
    order they were registered; at most ``limit``."""
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
        .join(Release, Release.id == Device.installed_release_pk)
        .outerjoin(Department, Department.id == Device.department_id)
        .where(one_of(session, Device.installed_release_pk, release_pks), *in_scope(principal))
        .order_by(Release.model, Release.version_number, Device.id)
    )
    if limit is not None:
        query = query.limit(limit)
    for org, site, device_id, serial, model, version, department, test in session.execute(query):
        by_site[(org, site)].append(
            ExposedDevice(device_id, serial, model, str(version), department, bool(test))
        )
    return by_site
