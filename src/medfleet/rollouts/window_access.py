"""Who may read and change maintenance windows and blackouts, and finding a caller's site,
department or hospital (another hospital's is "not found", never "forbidden")."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.accounts.tables import Department, Organization, Site
from medfleet.rollouts.window_errors import (
    InvalidWindowError,
    WindowNotAllowedError,
    WindowScopeNotFoundError,
)

CHANGE_ROLES = (Role.ADMIN, Role.HOSPITAL_BIOMED, Role.HOSPITAL_IT)
MANUFACTURER_READERS = (Role.ADMIN, Role.FLEET_OPERATOR, Role.AUDITOR)


def check_reader(principal: Principal) -> None:
    """Hospital users read their own windows; manufacturer admins, fleet operators, auditors
    read all.

    Raises:
        WindowNotAllowedError: a manufacturer user without one of those roles.
    """
    if principal.org_kind is OrgKind.MANUFACTURER and not principal.has_any(*MANUFACTURER_READERS):
        raise WindowNotAllowedError(
            "reading maintenance windows needs the admin, fleet_operator or auditor role"
        )


def check_changer(principal: Principal) -> None:
    """Only the hospital's admin, biomed and IT users change windows and blackouts.

    Raises:
        WindowNotAllowedError: manufacturer staff, or a hospital user without those roles.
    """
    if principal.org_kind is OrgKind.MANUFACTURER:
        raise WindowNotAllowedError(
            "maintenance windows and blackouts are chosen by the hospital; "
            "manufacturer staff can read them"
        )
    if not principal.has_any(*CHANGE_ROLES):
        raise WindowNotAllowedError(
            "changing maintenance windows needs the admin, hospital_biomed or hospital_it role"
        )


def find_site(session: Session, principal: Principal, site_id: int) -> Site:
    """A site the caller may see.

    Raises:
        WindowScopeNotFoundError: missing or another hospital's.
    """
    site = session.get(Site, site_id)
    if site is None or not principal.can_see_org(site.org_id):
        raise WindowScopeNotFoundError(f"site {site_id} not found")
    return site


def find_department(session: Session, site: Site, department_id: int) -> Department:
    """A department of ``site``.

    Raises:
        WindowScopeNotFoundError: missing or of another site.
    """
    department = session.get(Department, department_id)
    if department is None or department.site_id != site.id:
        raise WindowScopeNotFoundError(
            f"department {department_id} not found at site {site.name!r}"
        )
    return department


def find_hospital(session: Session, principal: Principal, org_id: int) -> Organization:
    """A hospital the caller may see.

    Raises:
        WindowScopeNotFoundError: missing, another hospital, or not a hospital.
    """
    org = session.get(Organization, org_id)
    if org is None or not principal.can_see_org(org_id) or org.kind is not OrgKind.HOSPITAL:
        raise WindowScopeNotFoundError(f"hospital {org_id} not found")
    return org


def resolve_site(session: Session, principal: Principal, ref: str) -> Site:
    """A site by id or by name among the sites the caller may see (for the CLI).

    Raises:
        WindowScopeNotFoundError: no such site in the caller's scope.
        InvalidWindowError: the name is used by sites of several hospitals (give the id).
    """
    ref = ref.strip()
    if ref.isdigit():
        return find_site(session, principal, int(ref))
    statement = select(Site).where(Site.name == ref).order_by(Site.id)
    if principal.org_kind is OrgKind.HOSPITAL:
        statement = statement.where(Site.org_id == principal.org_id)
    sites = list(session.scalars(statement))
    if not sites:
        raise WindowScopeNotFoundError(f"site {ref!r} not found")
    if len(sites) > 1:
        ids = ", ".join(str(site.id) for site in sites)
        raise InvalidWindowError(f"several sites are named {ref!r} (ids {ids}): give the id")
    return sites[0]


def resolve_department(session: Session, site: Site, ref: str) -> Department:
    """A department of ``site`` by id or name.

    Raises:
        WindowScopeNotFoundError: ``site`` has no such department.
    """
    ref = ref.strip()
    if ref.isdigit():
        return find_department(session, site, int(ref))
    department = session.scalar(
        select(Department).where(Department.site_id == site.id, Department.name == ref)
    )
    if department is None:
        raise WindowScopeNotFoundError(f"department {ref!r} not found at site {site.name!r}")
    return department


def resolve_hospital(session: Session, principal: Principal, ref: str) -> Organization:
    """A hospital by id or name, within the caller's scope.

    Raises:
        WindowScopeNotFoundError: no such hospital in the caller's scope.
    """
    ref = ref.strip()
    if not ref.isdigit():
        found = session.scalar(select(Organization.id).where(Organization.name == ref))
        if found is None:
            raise WindowScopeNotFoundError(f"hospital {ref!r} not found")
        return find_hospital(session, principal, found)
    return find_hospital(session, principal, int(ref))
