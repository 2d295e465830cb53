"""Maintenance-window use cases: hospitals choose windows and blackouts for their sites.

Each function runs in the caller's transaction and records an audit event for every change.
Who may do what:

* change: the hospital's admin, biomed and IT users, for their own hospital's sites;
* read: every user of that hospital, and the manufacturer's admins, fleet operators and
  auditors (campaigns are scheduled around the windows) for every hospital;
* another hospital's site, department, window or blackout is "not found", never "forbidden".

The scheduler's principal-less reads (``rules_for``, ``rules_by_site``,
``rules_by_department``) live in ``window_lookup`` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Department, Site
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.rollouts.window_access import (
    check_changer,
    check_reader,
    find_department,
    find_site,
)
from medfleet.rollouts.window_blackouts import (
    add_blackout,
    blackout_dict,
    list_blackouts,
    remove_blackout,
)
from medfleet.rollouts.window_errors import (
    DuplicateWindowError,
    InvalidWindowError,
    WindowNotFoundError,
)
from medfleet.rollouts.window_lookup import (
    Rules,
    rule_of,
    rules_by_department,
    rules_by_site,
    rules_for,
)
from medfleet.rollouts.window_tables import START_FORMAT, MaintenanceWindow
from medfleet.rollouts.windows import (
    Opening,
    iter_openings,
    parse_rule,
)

__all__ = [
    "Rules",
    "Upcoming",
    "add_blackout",
    "add_window",
    "blackout_dict",
    "get_window",
    "list_blackouts",
    "list_windows",
    "remove_blackout",
    "remove_window",
    "rules_by_department",
    "rules_by_site",
    "rules_for",
    "upcoming",
    "upcoming_detail",
    "window_dict",
]

MAX_NAME = 200
MAX_UPCOMING = 100
UPCOMING_SPAN = timedelta(days=3 * 366)
"""How far ahead ``upcoming`` looks (further than the scheduler's horizon, for yearly rules)."""


def window_dict(window: MaintenanceWindow) -> dict[str, object]:
    """A window as audit payload and JSON (``start_local`` in the site's zone)."""
    return {
        "id": window.id,
        "org_id": window.org_id,
        "site_id": window.site_id,
        "department_id": window.department_id,
        "name": window.name,
        "timezone": window.site.timezone,
        "start_local": window.start_local,
        "rrule": window.rrule,
        "duration_minutes": window.duration_minutes,
    }


def add_window(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    site_id: int,
    department_id: int | None = None,
    name: str,
    start_local: datetime,
    rrule: str,
    duration: timedelta,
) -> MaintenanceWindow:
    """Add a recurring window to a site (or one of its departments), in the site's zone.

    Raises:
        WindowScopeNotFoundError: the site or department is missing or another hospital's.
        WindowNotAllowedError: manufacturer staff, or a hospital user without a changing role.
        InvalidWindowError: the name or the rule (see ``windows.parse_rule``).
        DuplicateWindowError: the site or department has a window of that name.
    """
    site = find_site(session, principal, site_id)
    check_changer(principal)
    if department_id is not None:
        find_department(session, site, department_id)
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidWindowError(f"a window needs a name of 1 to {MAX_NAME} characters")
    rule = parse_rule(site.timezone, start_local, rrule, duration)
    same = select(MaintenanceWindow.id).where(
        MaintenanceWindow.site_id == site.id,
        MaintenanceWindow.name == name,
        MaintenanceWindow.department_id.is_(None)
        if department_id is None
        else MaintenanceWindow.department_id == department_id,
    )
    if session.scalar(same) is not None:
        raise DuplicateWindowError(f"there is already a window named {name!r} there")
    window = MaintenanceWindow(
        org_id=site.org_id,
        site_id=site.id,
        department_id=department_id,
        name=name,
        start_local=rule.start_local.strftime(START_FORMAT),
        rrule=rule.rrule,
        duration_minutes=int(rule.duration.total_seconds() // 60),
        created_by=principal.user_id,
        created_at=audit.clock.now(),
    )
    session.add(window)
    session.flush()
    session.refresh(window)
    audit.record(
        session,
        NewEvent(
            principal.actor,
            site.org_id,
            "maintenance_window.added",
            "maintenance_window",
            str(window.id),
            window_dict(window),
        ),
    )
    return window


def get_window(session: Session, principal: Principal, window_id: int) -> MaintenanceWindow:
    """One window the caller may read.

    Raises:
        WindowNotFoundError: missing or another hospital's.
        WindowNotAllowedError: a manufacturer user without a reading role.
    """
    window = session.get(MaintenanceWindow, window_id)
    if window is None or not principal.can_see_org(window.org_id):
        raise WindowNotFoundError(f"maintenance window {window_id} not found")
    check_reader(principal)
    return window


def remove_window(
    session: Session, audit: AuditLog, principal: Principal, window_id: int
) -> MaintenanceWindow:
    """Delete a window (the audit trail keeps what it was); returns the removed row.

    Raises:
        WindowNotFoundError, WindowNotAllowedError.
    """
    window = get_window(session, principal, window_id)
    check_changer(principal)
    payload = window_dict(window)
    session.delete(window)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            window.org_id,
            "maintenance_window.removed",
            "maintenance_window",
            str(window_id),
            payload,
        ),
    )
    return window


def list_windows(
    session: Session, principal: Principal, *, site_id: int | None = None
) -> list[MaintenanceWindow]:
    """Windows the caller may read (one site's, or all), by site, department and name.

    Raises:
        WindowScopeNotFoundError: ``site_id`` is missing or another hospital's.
        WindowNotAllowedError: a manufacturer user without a reading role.
    """
    statement = select(MaintenanceWindow)
    if site_id is not None:
        statement = statement.where(
            MaintenanceWindow.site_id == find_site(session, principal, site_id).id
        )
    check_reader(principal)
    if principal.org_kind is OrgKind.HOSPITAL:
        statement = statement.where(MaintenanceWindow.org_id == principal.org_id)
    statement = statement.order_by(
        MaintenanceWindow.site_id,
        MaintenanceWindow.department_id.is_not(None),
        MaintenanceWindow.department_id,
        MaintenanceWindow.name,
    )
    return list(session.scalars(statement).unique())


@dataclass(frozen=True)
class Upcoming:
    """The next openings of a site (or department) and the windows they come from:
    ``windows[opening.rule]`` is the window of an opening."""

    site: Site
    department: Department | None
    openings: list[Opening]
    windows: list[MaintenanceWindow]


def upcoming_detail(
    session: Session,
    principal: Principal,
    *,
    site_id: int,
    department_id: int | None = None,
    count: int = 5,
    after: datetime | None = None,
) -> Upcoming:
    """``upcoming`` with the site, department and the window behind each opening.

    Raises:
        WindowScopeNotFoundError, WindowNotAllowedError, InvalidWindowError (count, naive
        ``after``).
    """
    site = find_site(session, principal, site_id)
    department = find_department(session, site, department_id) if department_id else None
    check_reader(principal)
    if not 1 <= count <= MAX_UPCOMING:
        raise InvalidWindowError(f"count must be from 1 to {MAX_UPCOMING} (got {count})")
    moment = after if after is not None else datetime.now(UTC)
    windows = _applying_windows(session, site, department)
    rules = [rule_of(site.timezone, window) for window in windows]
    _rules, blackouts = rules_for(session, site.id, department.id if department else None)
    found = list(islice(iter_openings(rules, blackouts, moment, moment + UPCOMING_SPAN), count))
    return Upcoming(site, department, found, windows)


def _applying_windows(
    session: Session, site: Site, department: Department | None
) -> list[MaintenanceWindow]:
    def of(department_id: int | None) -> list[MaintenanceWindow]:
        where = (
            MaintenanceWindow.department_id.is_(None)
            if department_id is None
            else MaintenanceWindow.department_id == department_id
        )
        statement = select(MaintenanceWindow).where(MaintenanceWindow.site_id == site.id, where)
        return list(session.scalars(statement.order_by(MaintenanceWindow.id)).unique())

    own = of(department.id) if department is not None else []
    return own or of(None)


def upcoming(
    session: Session,
    principal: Principal,
    *,
    site_id: int,
    department_id: int | None = None,
    count: int = 5,
    after: datetime | None = None,
) -> list[Opening]:
    """The next ``count`` openings of a site (or department) within ``UPCOMING_SPAN`` (three
    years): the one open at ``after`` first, if any; blacked-out occurrences are left out.
    ``after`` None means the wall clock now (routes and the CLI pass the runtime's clock).

    Raises:
        WindowScopeNotFoundError: the site or department is missing or another hospital's.
        WindowNotAllowedError: a manufacturer user without a reading role.
        InvalidWindowError: ``count`` outside 1..100, or a naive ``after``.
    """
    return upcoming_detail(
        session,
        principal,
        site_id=site_id,
        department_id=department_id,
        count=count,
        after=after,
    ).openings
