"""The device side of exposure: counts and listings of the devices running given releases.

A device runs a release when its model and installed version are the release's. Everything is
counted in SQL: per release through the device index on (model, installed version), per
hospital and site with an ``EXISTS`` over the releases; release id sets go to PostgreSQL as one
array (``db.id_sets``). ``in_scope`` narrows a hospital user to its own devices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Department
from medfleet.db.id_sets import one_of
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.vulns.exposure_model import ExposedDevice


def in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """No condition for manufacturer staff; a hospital user's own devices only."""
    if principal.org_kind is OrgKind.MANUFACTURER:
        return []
    return [Device.org_id == principal.org_id]


def runs_affected_release(session: Session, release_pks: Collection[int]) -> ColumnElement[bool]:
    """True for a device whose model and installed version are one of these releases'."""
    return exists().where(
        Release.model == Device.model,
        Release.version == Device.installed_version,
        one_of(session, Release.id, release_pks),
    )


def devices_per_release(
    session: Session, principal: Principal, release_pks: Collection[int]
) -> dict[int, int]:
    """Exposed devices per affected release, within the caller's scope (releases without
    devices absent). Counted per release through the (model, installed version) index."""
    if not release_pks:
        return {}
    devices = (
        select(func.count())
        .where(
            Device.model == Release.model,
            Device.installed_version == Release.version,
            *in_scope(principal),
        )
        .correlate(Release)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Release.id, devices).where(one_of(session, Release.id, release_pks))
    )
    return {pk: count for pk, count in rows if count}


def devices_per_site(
    session: Session, principal: Principal, release_pks: Collection[int]
) -> dict[tuple[int, int | None], tuple[int, int]]:
    """(devices, test devices) per (hospital, site) running an affected release."""
    if not release_pks:
        return {}
    tests = func.sum(case((Device.is_test_device, 1), else_=0))
    rows = session.execute(
        select(Device.org_id, Device.site_id, func.count(), tests)
        .where(runs_affected_release(session, release_pks), *in_scope(principal))
        .group_by(Device.org_id, Device.site_id)
    )
    return {(org, site): (count, int(test_count or 0)) for org, site, count, test_count in rows}


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
        .join(
            Release,
            and_(Release.model == Device.model, Release.version == Device.installed_version),
        )
        .outerjoin(Department, Department.id == Device.department_id)
        .where(one_of(session, Release.id, release_pks), *in_scope(principal))
        .order_by(Release.model, Release.version_number, Device.id)
    )
    if limit is not None:
        query = query.limit(limit)
    for org, site, device_id, serial, model, version, department, test in session.execute(query):
        by_site[(org, site)].append(
            ExposedDevice(device_id, serial, model, str(version), department, bool(test))
        )
    return by_site
