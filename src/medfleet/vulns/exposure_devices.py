"""The device side of exposure: counts and listings of the devices running given releases.

A device runs a release when its model and installed version are the release's; the database
keeps that link as ``device.installed_release_pk`` (migration 0015). Everything is counted in
SQL from the index on it, which carries hospital, site and the test flag; release id sets go to
PostgreSQL as one array (``db.id_sets``). ``in_scope`` narrows a hospital user to its own
devices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Department
from medfleet.db.id_sets import one_of
from medfleet.db.planner import without
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.vulns.exposure_model import ExposedDevice


def in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """No condition for manufacturer staff; a hospital user's own devices only."""
    if principal.org_kind is OrgKind.MANUFACTURER:
        return []
    return [Device.org_id == principal.org_id]


@dataclass(frozen=True)
class DeviceCounts:
    """Exposed devices per affected release (releases without devices absent), and
    (devices, test devices) per (hospital, site)."""

    per_release: dict[int, int]
    per_site: dict[tuple[int, int | None], tuple[int, int]]


def device_counts(
    session: Session, principal: Principal, release_pks: Collection[int]
) -> DeviceCounts:
    """The devices running one of these releases, within the caller's scope, counted per
    release and per hospital and site. On PostgreSQL in one pass over the index on the
    installed release (``GROUPING SETS``: per release in index order, per site hashed)."""
    if not release_pks:
        return DeviceCounts({}, {})
    runs = [one_of(session, Device.installed_release_pk, release_pks), *in_scope(principal)]
    tests = func.count().filter(Device.is_test_device.is_(True))
    if session.get_bind().dialect.name != "postgresql":
        releases = session.execute(
            select(Device.installed_release_pk, func.count())
            .where(*runs)
            .group_by(Device.installed_release_pk)
        )
        sites = session.execute(
            select(Device.org_id, Device.site_id, func.count(), tests)
            .where(*runs)
            .group_by(Device.org_id, Device.site_id)
        )
        return DeviceCounts(
            {pk: count for pk, count in releases if pk is not None},
            _per_site(sites),
        )
    per_release: dict[int, int] = {}
    per_site: list[tuple[int, int | None, int, int]] = []
    # PostgreSQL would rather filter a sequential scan and hash both groupings; on a million
    # exposed devices the index-only scan, grouped per release as it comes, is about 1.7 times
    # faster (bench/match.py, bench/README.md).
    with without(session, "seqscan"):
        rows = session.execute(
            select(
                func.grouping(Device.installed_release_pk),
                Device.installed_release_pk,
                Device.org_id,
                Device.site_id,
                func.count(),
                tests,
            )
            .where(*runs)
            .group_by(
                func.grouping_sets(
                    tuple_(Device.installed_release_pk), tuple_(Device.org_id, Device.site_id)
                )
            )
        ).all()
    for per_site_row, release_pk, org, site, count, test_count in rows:
        if per_site_row:
            per_site.append((org, site, count, test_count))
        elif release_pk is not None:
            per_release[release_pk] = count
    return DeviceCounts(per_release, _per_site(per_site))


def _per_site(
    rows: Iterable[tuple[int, int | None, int, int]],
) -> dict[tuple[int, int | None], tuple[int, int]]:
    return {(org, site): (count, test_count) for org, site, count, test_count in rows}


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
