"""Downtime reports: installs, success rate, downtime and unsupported devices per group.

``downtime_report`` groups the install attempts reported in a period (``medfleet.fleet.
downtime.attempts_in_scope``) by hospital, site, model or release and adds, per group, how many
devices of the group run an unsupported version now (the fleet's current state, whatever the
period). The numbers are defined in ``medfleet.fleet.downtime_model``.

Groups: an attempt belongs to the hospital, site and model of its device at the time and to
the release it installed (model and version number); a device belongs to its hospital, site
and model now and to the release it attests running. A group appears when it has an attempt
in the period or a device now (devices without a site form a "(no site)" group per hospital;
devices that attested no version are in no release group).

Scope: a hospital user sees only its own hospital's attempts and devices, whatever it asks
for (another hospital is "not found"); the manufacturer's staff see every hospital, or one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.accounts.tables import Organization, Site
from medfleet.fleet.downtime import attempts_in_scope, scoped_hospital
from medfleet.fleet.downtime_model import (
    DowntimeRow,
    GroupBy,
    Tally,
    check_group_by,
    is_unsupported,
    make_row,
)
from medfleet.fleet.tables import Device, DeviceModel
from medfleet.releases.tables import Release

NO_SITE = "(no site)"
WITHDRAWN = "withdrawn"

# (key, label, hospital org id or None) of one group.
Group = tuple[str, str, int | None]
# How an (org id, site id, model, version number, version) falls into a group.
Grouper = Callable[[int, int | None, str, int | None, str | None], Group | None]


class _Names:
    """Hospital and site names, loaded once per report."""

    def __init__(self, session: Session, org_ids: set[int], site_ids: set[int]) -> None:
        self.hospitals = {
            org.id: org.name
            for org in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))
        }
        self.sites = {
            site.id: site.name
            for site in session.scalars(select(Site).where(Site.id.in_(site_ids)))
        }

    def hospital(self, org_id: int | None) -> str | None:
        return None if org_id is None else self.hospitals.get(org_id, f"organization {org_id}")


def _grouper(group_by: GroupBy, names: _Names) -> Grouper:

    def group(
        org_id: int, site_id: int | None, model: str, number: int | None, version: str | None
    ) -> Group | None:
        if group_by == "hospital":
            return str(org_id), names.hospital(org_id) or "", org_id
        if group_by == "site":
            if site_id is None:
                return f"{org_id}:-", NO_SITE, org_id
            return str(site_id), names.sites.get(site_id, f"site {site_id}"), org_id
        if group_by == "model":
            return model, model, None
        if number is None:
            return None
        return f"{model}@{number}", f"{model} {version or number}", None

    return group


def downtime_report(
    session: Session,
    principal: Principal,
    *,
    group_by: GroupBy,
    hospital_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DowntimeRow]:
    """One row per group (see the module docstring), sorted by hospital and label.

    ``since``/``until`` bound the time the devices reported the attempts finished,
    ``[since, until)``.

    Raises:
        InvalidReportQueryError: ``group_by`` is not hospital, site, model or release.
        PlaceNotFoundError: ``hospital_id`` is not a hospital the caller may see.
        InvalidReportPeriodError: (an ``InvalidReportQueryError``) a naive bound, or
            ``since`` not before ``until``.
    """
    group_by = check_group_by(group_by)
    attempts = attempts_in_scope(
        session, principal, hospital_id=hospital_id, since=since, until=until
    )
    hospital = scoped_hospital(session, principal, hospital_id)
    statement = select(Device)
    if hospital is not None:
        statement = statement.where(Device.org_id == hospital.id)
    devices = list(session.scalars(statement))
    names = _Names(
        session,
        {a.org_id for a in attempts} | {d.org_id for d in devices},
        {a.site_id for a in attempts if a.site_id} | {d.site_id for d in devices if d.site_id},
    )
    group_of = _grouper(group_by, names)
    tallies: dict[str, Tally] = {}
    groups: dict[str, Group] = {}
    for attempt in attempts:
        group = group_of(
            attempt.org_id,
            attempt.site_id,
            attempt.model,
            attempt.target_version_number,
            attempt.target_version,
        )
        if group is not None:
            groups.setdefault(group[0], group)
            tallies[group[0]] = tallies.get(group[0], Tally()).add(
                attempt.outcome, attempt.downtime_seconds
            )
    unsupported = _unsupported_counts(session, devices, group_of, groups)
    rows = [
        make_row(
            group_by,
            key,
            label,
            names.hospital(org_id),
            tallies.get(key, Tally()),
            unsupported.get(key, 0),
        )
        for key, label, org_id in groups.values()
    ]
    return sorted(rows, key=lambda row: (row.hospital or "", row.label, row.key))


def _unsupported_counts(
    session: Session,
    devices: list[Device],
    group_of: Grouper,
    groups: dict[str, Group],
) -> dict[str, int]:
    """Unsupported devices per group key; every device's group is added to ``groups``."""
    floors = {
        model.name: model.supported_from_version_number
        for model in session.scalars(select(DeviceModel))
    }
    withdrawn = {
        (model, number)
        for model, number in session.execute(
            select(Release.model, Release.version_number).where(Release.state == WITHDRAWN)
        )
    }
    counts: dict[str, int] = {}
    for device in devices:
        number = device.installed_version_number
        group = group_of(
            device.org_id, device.site_id, device.model, number, device.installed_version
        )
        if group is None:
            continue
        groups.setdefault(group[0], group)
        if is_unsupported(number, floors.get(device.model), (device.model, number) in withdrawn):
            counts[group[0]] = counts.get(group[0], 0) + 1
    return counts
