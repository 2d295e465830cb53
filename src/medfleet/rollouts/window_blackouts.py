"""Blackout use cases: holiday freezes per site or for a whole hospital, as local days.

Same rules as windows (``window_access``): the hospital's admin, biomed and IT users change
their own; readers as for windows. Every change is audited in the same transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.rollouts.window_access import (
    check_changer,
    check_reader,
    find_hospital,
    find_site,
)
from medfleet.rollouts.window_errors import (
    BlackoutNotFoundError,
    InvalidWindowError,
    WindowScopeNotFoundError,
)
from medfleet.rollouts.window_tables import BlackoutPeriod
from medfleet.rollouts.windows import blackout_from_local


def blackout_dict(blackout: BlackoutPeriod) -> dict[str, object]:
    """A blackout as audit payload and JSON (days are local dates)."""
    return {
        "id": blackout.id,
        "org_id": blackout.org_id,
        "site_id": blackout.site_id,
        "first_day": blackout.first_day.isoformat(),
        "last_day": blackout.last_day.isoformat(),
        "reason": blackout.reason,
    }


def add_blackout(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    first_day: date,
    last_day: date,
    reason: str,
    site_id: int | None = None,
    org_id: int | None = None,
) -> BlackoutPeriod:
    """Add a blackout (local days, inclusive) for one site, or for every site of a hospital
    (``site_id`` None; ``org_id`` defaults to the caller's hospital).

    Raises:
        WindowScopeNotFoundError: the site or hospital is missing or another hospital's.
        WindowNotAllowedError: manufacturer staff, or a hospital user without a changing role.
        InvalidWindowError: last day before first, longer than a year, no reason.
    """
    if site_id is not None:
        site = find_site(session, principal, site_id)
        if org_id is not None and org_id != site.org_id:
            raise WindowScopeNotFoundError(f"site {site_id} not found in hospital {org_id}")
        org_id, zone = site.org_id, site.timezone
    else:
        if org_id is None and principal.org_kind is OrgKind.MANUFACTURER:
            raise InvalidWindowError("a hospital-wide blackout needs the hospital (org_id)")
        org_id = find_hospital(session, principal, org_id or principal.org_id).id
        zone = "UTC"  # the days are checked here; each site reads them in its own zone
    check_changer(principal)
    checked = blackout_from_local(zone, first_day, last_day, reason)
    blackout = BlackoutPeriod(
        org_id=org_id,
        site_id=site_id,
        first_day=first_day,
        last_day=last_day,
        reason=checked.reason,
        created_by=principal.user_id,
        created_at=audit.clock.now(),
    )
    session.add(blackout)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            org_id,
            "blackout.added",
            "blackout",
            str(blackout.id),
            blackout_dict(blackout),
        ),
    )
    return blackout


def _get_blackout(session: Session, principal: Principal, blackout_id: int) -> BlackoutPeriod:
    blackout = session.get(BlackoutPeriod, blackout_id)
    if blackout is None or not principal.can_see_org(blackout.org_id):
        raise BlackoutNotFoundError(f"blackout {blackout_id} not found")
    return blackout


def remove_blackout(
    session: Session, audit: AuditLog, principal: Principal, blackout_id: int
) -> BlackoutPeriod:
    """Delete a blackout (the audit trail keeps what it was); returns the removed row.

    Raises:
        BlackoutNotFoundError, WindowNotAllowedError.
    """
    blackout = _get_blackout(session, principal, blackout_id)
    check_changer(principal)
    payload = blackout_dict(blackout)
    session.delete(blackout)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            blackout.org_id,
            "blackout.removed",
            "blackout",
            str(blackout_id),
            payload,
        ),
    )
    return blackout


def list_blackouts(
    session: Session,
    principal: Principal,
    *,
    site_id: int | None = None,
    org_id: int | None = None,
) -> list[BlackoutPeriod]:
    """Blackouts the caller may read, by first day: those applying to one site (its own and
    its hospital's), or a hospital's, or all.

    Raises:
        WindowScopeNotFoundError: the site or hospital is missing or another hospital's.
        WindowNotAllowedError: a manufacturer user without a reading role.
    """
    statement = select(BlackoutPeriod)
    if site_id is not None:
        site = find_site(session, principal, site_id)
        statement = statement.where(
            BlackoutPeriod.org_id == site.org_id,
            or_(BlackoutPeriod.site_id == site.id, BlackoutPeriod.site_id.is_(None)),
        )
    if org_id is not None:
        statement = statement.where(
            BlackoutPeriod.org_id == find_hospital(session, principal, org_id).id
        )
    check_reader(principal)
    if principal.org_kind is OrgKind.HOSPITAL:
        statement = statement.where(BlackoutPeriod.org_id == principal.org_id)
    statement = statement.order_by(BlackoutPeriod.first_day, BlackoutPeriod.id)
    return list(session.scalars(statement).unique())
