"""Account use cases: organizations, sites, departments and users.

Each public function runs inside the caller's transaction, checks the caller's roles and
organization scope, and records an audit event for every change. Objects outside the caller's
scope are reported as not found, so a hospital cannot even learn that another hospital's site
exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from medfleet.accounts.model import (
    OrgKind,
    Principal,
    Role,
    check_name,
    check_password_strength,
    check_roles_for_kind,
    check_timezone,
    check_username,
)
from medfleet.accounts.passwords import hash_password
from medfleet.accounts.tables import Department, Organization, Site, User, UserRole
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog

SYSTEM_ACTOR = "system"


def principal_of(user: User) -> Principal:
    """The principal for a loaded user."""
    return Principal(
        user.id, user.username, user.full_name, user.org_id, user.organization.kind, user.roles
    )


def _require(principal: Principal, *roles: Role) -> None:
    if not principal.has_any(*roles):
        wanted = " or ".join(role.value for role in roles)
        raise PermissionDeniedError(f"this needs the {wanted} role")


def get_organization(session: Session, principal: Principal, org_id: int) -> Organization:
    """One organization the caller may see.

    Raises:
        NotFoundError: it does not exist or is outside the caller's scope.
    """
    org = session.get(Organization, org_id)
    if org is None or not principal.can_see_org(org_id):
        raise NotFoundError(f"organization {org_id} not found")
    return org


def list_organizations(session: Session, principal: Principal) -> list[Organization]:
    """Organizations the caller may see, by name."""
    statement = select(Organization).order_by(Organization.name)
    if principal.org_kind is OrgKind.HOSPITAL:
        statement = statement.where(Organization.id == principal.org_id)
    return list(session.scalars(statement))


def _insert_organization(session: Session, name: str, kind: OrgKind, now: datetime) -> Organization:
    name = check_name("organization name", name)
    if session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise ConflictError(f"an organization named {name!r} already exists")
    org = Organization(name=name, kind=kind, created_at=now)
    session.add(org)
    session.flush()
    return org


def create_organization(
    session: Session, audit: AuditLog, principal: Principal, name: str, kind: OrgKind
) -> Organization:
    """Create a hospital (manufacturer admins only; one manufacturer per deployment).

    Raises:
        PermissionDeniedError, InvalidInputError, ConflictError.
    """
    _require(principal, Role.ADMIN)
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise PermissionDeniedError("only the manufacturer's admins create organizations")
    if kind is OrgKind.MANUFACTURER:
        raise InvalidInputError("a deployment has one manufacturer, created by 'medfleet init'")
    org = _insert_organization(session, name, kind, audit.clock.now())
    audit.record(
        session,
        NewEvent(
            principal.actor,
            org.id,
            "organization.created",
            "organization",
            str(org.id),
            {"name": org.name, "kind": kind.value},
        ),
    )
    return org


@dataclass(frozen=True)
class NewUser:
    """What it takes to create a user."""

    username: str
    full_name: str
    password: str
    roles: frozenset[Role]
    email: str | None = None


def _insert_user(
    session: Session, hasher: PasswordHasher, org: Organization, new: NewUser, now: datetime
) -> User:
    username = check_username(new.username)
    full_name = check_name("full name", new.full_name)
    check_password_strength(new.password)
    check_roles_for_kind(org.kind, new.roles)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"user name {username!r} is taken")
    user = User(
        org_id=org.id,
        username=username,
        full_name=full_name,
        email=new.email,
        password_hash=hash_password(hasher, new.password),
        failed_logins=0,
        active=True,
        created_at=now,
        role_rows=[UserRole(role=role) for role in sorted(new.roles)],
    )
    user.organization = org
    session.add(user)
    session.flush()
    return user


def bootstrap_manufacturer(
    session: Session, audit: AuditLog, hasher: PasswordHasher, org_name: str, admin: NewUser
) -> User:
    """Create the manufacturer and its first admin on an empty database (``medfleet init``).

    Raises:
        ConflictError: a manufacturer already exists.
        InvalidInputError: a name, password or role is not acceptable.
    """
    existing = session.scalar(select(Organization).where(Organization.kind == OrgKind.MANUFACTURER))
    if existing is not None:
        raise ConflictError(f"this deployment already has its manufacturer {existing.name!r}")
    now = audit.clock.now()
    org = _insert_organization(session, org_name, OrgKind.MANUFACTURER, now)
    user = _insert_user(session, hasher, org, admin, now)
    audit.record_many(
        session,
        [
            NewEvent(
                SYSTEM_ACTOR,
                org.id,
                "organization.created",
                "organization",
                str(org.id),
                {"name": org.name, "kind": org.kind.value},
            ),
            NewEvent(
                SYSTEM_ACTOR,
                org.id,
                "user.created",
                "user",
                str(user.id),
                {"username": user.username, "roles": sorted(r.value for r in user.roles)},
            ),
        ],
    )
    return user


def _can_manage_org(principal: Principal, org_id: int) -> bool:
    if not principal.has_any(Role.ADMIN):
        return False
    return principal.org_id == org_id or principal.org_kind is OrgKind.MANUFACTURER


def create_user(
    session: Session,
    audit: AuditLog,
    hasher: PasswordHasher,
    principal: Principal,
    org_id: int,
    new: NewUser,
) -> User:
    """Create a user in an organization the caller administers.

    Raises:
        NotFoundError, PermissionDeniedError, InvalidInputError, ConflictError.
    """
    org = get_organization(session, principal, org_id)
    if not _can_manage_org(principal, org.id):
        raise PermissionDeniedError("this needs the admin role of that organization")
    user = _insert_user(session, hasher, org, new, audit.clock.now())
    audit.record(
        session,
        NewEvent(
            principal.actor,
            org.id,
            "user.created",
            "user",
            str(user.id),
            {"username": user.username, "roles": sorted(r.value for r in user.roles)},
        ),
    )
    return user


def list_users(session: Session, principal: Principal, org_id: int) -> list[User]:
    """Users of an organization the caller may see (admins and auditors only).

    Raises:
        NotFoundError, PermissionDeniedError.
    """
    org = get_organization(session, principal, org_id)
    _require(principal, Role.ADMIN, Role.AUDITOR)
    return list(session.scalars(select(User).where(User.org_id == org.id).order_by(User.username)))


def create_site(
    session: Session, audit: AuditLog, principal: Principal, org_id: int, name: str, timezone: str
) -> Site:
    """Add a site with its IANA time zone to an organization the caller administers.

    Raises:
        NotFoundError, PermissionDeniedError, InvalidInputError, ConflictError.
    """
    org = get_organization(session, principal, org_id)
    if not _can_manage_org(principal, org.id):
        raise PermissionDeniedError("this needs the admin role of that organization")
    name = check_name("site name", name)
    zone = check_timezone(timezone)
    duplicate = select(Site.id).where(Site.org_id == org.id, Site.name == name)
    if session.scalar(duplicate) is not None:
        raise ConflictError(f"{org.name} already has a site named {name!r}")
    site = Site(org_id=org.id, name=name, timezone=zone, created_at=audit.clock.now())
    session.add(site)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            org.id,
            "site.created",
            "site",
            str(site.id),
            {"name": name, "timezone": zone},
        ),
    )
    return site


def get_site(session: Session, principal: Principal, site_id: int) -> Site:
    """One site the caller may see.

    Raises:
        NotFoundError: missing or outside the caller's scope.
    """
    site = session.get(Site, site_id)
    if site is None or not principal.can_see_org(site.org_id):
        raise NotFoundError(f"site {site_id} not found")
    return site


def list_sites(session: Session, principal: Principal, org_id: int) -> list[Site]:
    """Sites of one organization the caller may see.

    Raises:
        NotFoundError: the organization is missing or outside the caller's scope.
    """
    org = get_organization(session, principal, org_id)
    return list(session.scalars(select(Site).where(Site.org_id == org.id).order_by(Site.name)))


def create_department(
    session: Session, audit: AuditLog, principal: Principal, site_id: int, name: str
) -> Department:
    """Add a department to a site the caller administers.

    Raises:
        NotFoundError, PermissionDeniedError, InvalidInputError, ConflictError.
    """
    site = get_site(session, principal, site_id)
    if not _can_manage_org(principal, site.org_id):
        raise PermissionDeniedError("this needs the admin role of that organization")
    name = check_name("department name", name)
    duplicate = select(Department.id).where(Department.site_id == site.id, Department.name == name)
    if session.scalar(duplicate) is not None:
        raise ConflictError(f"site {site.name!r} already has a department named {name!r}")
    department = Department(site_id=site.id, name=name, created_at=audit.clock.now())
    session.add(department)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            site.org_id,
            "department.created",
            "department",
            str(department.id),
            {"site_id": site.id, "name": name},
        ),
    )
    return department


def get_user(session: Session, username: str) -> User:
    """A user by name, unscoped: for the local operator's CLI only.

    Raises:
        NotFoundError: no such user.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"user {username!r} not found")
    return user
