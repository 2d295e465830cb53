"""Window rules and blackouts as the campaign scheduler reads them: no principal, no audit.

Stored rows become the pure values of ``medfleet.rollouts.windows`` (rules were validated when
stored, so they are not validated again). What applies to a site: its own windows (those
without a department) and blackouts of the site plus the hospital-wide ones, each read in the
site's zone. A department with windows of its own uses those instead of the site's.

``rules_by_site`` and ``rules_by_department`` serve thousands of sites in two queries per
thousand ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from medfleet.accounts.tables import Department, Site
from medfleet.rollouts.window_errors import WindowScopeNotFoundError
from medfleet.rollouts.window_tables import START_FORMAT, BlackoutPeriod, MaintenanceWindow
from medfleet.rollouts.windows import Blackout, WindowRule, blackout_from_local

Rules = tuple[list[WindowRule], list[Blackout]]
"""The windows and blackouts that apply to one site or department."""
_CHUNK = 1000


def rule_of(timezone: str, window: MaintenanceWindow) -> WindowRule:
    """The pure rule of a stored window in its site's zone."""
    return _rule(timezone, window.start_local, window.rrule, window.duration_minutes)


def _rule(timezone: str, start_local: str, rrule: str, minutes: int) -> WindowRule:
    start = datetime.strptime(start_local, START_FORMAT)
    return WindowRule(timezone, start, rrule, timedelta(minutes=minutes))


def _blackout(timezone: str, first_day: date, last_day: date, reason: str) -> Blackout:
    return blackout_from_local(timezone, first_day, last_day, reason)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    unique = sorted(set(ids))
    for offset in range(0, len(unique), _CHUNK):
        yield unique[offset : offset + _CHUNK]


def rules_for(session: Session, site_id: int, department_id: int | None = None) -> Rules:
    """The windows and blackouts of one site, or of one department of it.

    Raises:
        WindowScopeNotFoundError: no such site, or the department is not one of its.
    """
    site = session.get(Site, site_id)
    if site is None:
        raise WindowScopeNotFoundError(f"site {site_id} not found")
    if department_id is not None:
        department = session.get(Department, department_id)
        if department is None or department.site_id != site.id:
            raise WindowScopeNotFoundError(
                f"department {department_id} not found at site {site.name!r}"
            )
        found = rules_by_department(session, [department_id])
        return found[department_id]
    return rules_by_site(session, [site_id])[site_id]


def rules_by_site(session: Session, site_ids: Iterable[int]) -> dict[int, Rules]:
    """For each existing site in ``site_ids``: its own windows and its blackouts.

    Unknown ids are left out of the result. Two queries per thousand ids; rules are in the
    order the windows were created, blackouts by first day.
    """
    result: dict[int, Rules] = {}
    for chunk in _chunks(site_ids):
        rows = session.execute(
            select(
                Site.id,
                Site.org_id,
                Site.timezone,
                MaintenanceWindow.start_local,
                MaintenanceWindow.rrule,
                MaintenanceWindow.duration_minutes,
            )
            .outerjoin(
                MaintenanceWindow,
                and_(
                    MaintenanceWindow.site_id == Site.id,
                    MaintenanceWindow.department_id.is_(None),
                ),
            )
            .where(Site.id.in_(chunk))
            .order_by(Site.id, MaintenanceWindow.id)
        ).all()
        zones: dict[int, tuple[int, str]] = {}
        for site_id, org_id, zone, start_local, rrule, minutes in rows:
            zones[site_id] = (org_id, zone)
            rules = result.setdefault(site_id, ([], []))[0]
            if start_local is not None:
                rules.append(_rule(zone, start_local, rrule, minutes))
        _add_blackouts(session, zones, result)
    return result


def _add_blackouts(
    session: Session, zones: dict[int, tuple[int, str]], result: dict[int, Rules]
) -> None:
    if not zones:
        return
    orgs = {org_id for org_id, _zone in zones.values()}
    by_org: dict[int, list[int]] = {}
    for site_id, (org_id, _zone) in zones.items():
        by_org.setdefault(org_id, []).append(site_id)
    rows = session.execute(
        select(
            BlackoutPeriod.org_id,
            BlackoutPeriod.site_id,
            BlackoutPeriod.first_day,
            BlackoutPeriod.last_day,
            BlackoutPeriod.reason,
        )
        .where(
            or_(
                BlackoutPeriod.site_id.in_(list(zones)),
                and_(BlackoutPeriod.site_id.is_(None), BlackoutPeriod.org_id.in_(orgs)),
            )
        )
        .order_by(BlackoutPeriod.first_day, BlackoutPeriod.id)
    ).all()
    for owner, only_site, first_day, last_day, reason in rows:
        targets: list[int] = by_org.get(owner, []) if only_site is None else [only_site]
        for target in targets:
            zone = zones[target][1]
            result[target][1].append(_blackout(zone, first_day, last_day, reason))


def rules_by_department(session: Session, department_ids: Iterable[int]) -> dict[int, Rules]:
    """For each existing department: its own windows if it has any, else its site's; the
    blackouts of its site. Unknown ids are left out."""
    result: dict[int, Rules] = {}
    for chunk in _chunks(department_ids):
        rows = session.execute(
            select(
                Department.id,
                Department.site_id,
                Site.timezone,
                MaintenanceWindow.start_local,
                MaintenanceWindow.rrule,
                MaintenanceWindow.duration_minutes,
            )
            .join(Site, Site.id == Department.site_id)
            .outerjoin(MaintenanceWindow, MaintenanceWindow.department_id == Department.id)
            .where(Department.id.in_(chunk))
            .order_by(Department.id, MaintenanceWindow.id)
        ).all()
        sites = rules_by_site(session, {row[1] for row in rows})
        own: dict[int, tuple[int, list[WindowRule]]] = {}
        for department_id, site_id, zone, start_local, rrule, minutes in rows:
            rules = own.setdefault(department_id, (site_id, []))[1]
            if start_local is not None:
                rules.append(_rule(zone, start_local, rrule, minutes))
        for department_id, (site_id, rules) in own.items():
            site_rules, blackouts = sites[site_id]
            result[department_id] = (rules or list(site_rules), list(blackouts))
    return result
