"""HTTP endpoints of the accounts domain: tokens, the caller, organizations, sites, users.

Routes parse, call ``medfleet.accounts.service`` inside one unit of work, and shape the answer;
the service does every scope and role check, so an object of another organization is a 404
here exactly as it is in the service. Password hashes never leave the server.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from medfleet.accounts import credentials, service
from medfleet.accounts.auth import authenticate
from medfleet.accounts.model import OrgKind, Principal, Role, parse_roles
from medfleet.accounts.tables import Department, Organization, Site, User
from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work

router = APIRouter(prefix=API_PREFIX, tags=["accounts"])


class TokenRequest(BaseModel):
    """Credentials for a new API token."""

    username: str = Field(min_length=1, max_length=63)
    password: str = Field(min_length=1, max_length=1024)
    label: str = Field(default="api", min_length=1, max_length=200)


class TokenOut(BaseModel):
    """A new API token; shown once, only its hash is stored."""

    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_at: datetime


class MeOut(BaseModel):
    """The caller."""

    user_id: int
    username: str
    full_name: str
    org_id: int
    org_kind: OrgKind
    roles: list[Role]

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        """From a principal."""
        return cls(
            user_id=principal.user_id,
            username=principal.username,
            full_name=principal.full_name,
            org_id=principal.org_id,
            org_kind=principal.org_kind,
            roles=sorted(principal.roles),
        )


class OrganizationIn(BaseModel):
    """A new organization (a hospital)."""

    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind


class OrganizationOut(BaseModel):
    """An organization."""

    id: int
    name: str
    kind: OrgKind
    created_at: datetime

    @classmethod
    def of(cls, org: Organization) -> OrganizationOut:
        """From a row."""
        return cls(id=org.id, name=org.name, kind=org.kind, created_at=org.created_at)


class SiteIn(BaseModel):
    """A new site; ``timezone`` is an IANA name such as ``Europe/Berlin``."""

    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(min_length=1, max_length=64)


class DepartmentIn(BaseModel):
    """A new department."""

    name: str = Field(min_length=1, max_length=200)


class DepartmentOut(BaseModel):
    """A department of a site."""

    id: int
    site_id: int
    name: str
    created_at: datetime

    @classmethod
    def of(cls, department: Department) -> DepartmentOut:
        """From a row."""
        return cls(
            id=department.id,
            site_id=department.site_id,
            name=department.name,
            created_at=department.created_at,
        )


class SiteOut(BaseModel):
    """A site."""

    id: int
    org_id: int
    name: str
    timezone: str
    created_at: datetime

    @classmethod
    def of(cls, site: Site) -> SiteOut:
        """From a row."""
        return cls(
            id=site.id,
            org_id=site.org_id,
            name=site.name,
            timezone=site.timezone,
            created_at=site.created_at,
        )


class SiteDetailOut(SiteOut):
    """A site with its departments."""

    departments: list[DepartmentOut]


class UserIn(BaseModel):
    """A new user; the password is hashed (Argon2id) and never returned."""

    username: str = Field(min_length=1, max_length=63)
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[str] = Field(min_length=1)
    email: str | None = Field(default=None, max_length=320)


class UserOut(BaseModel):
    """A user, without any credential."""

    id: int
    org_id: int
    username: str
    full_name: str
    email: str | None
    roles: list[Role]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        """From a row."""
        return cls(
            id=user.id,
            org_id=user.org_id,
            username=user.username,
            full_name=user.full_name,
            email=user.email,
            roles=sorted(user.roles),
            active=user.active,
            created_at=user.created_at,
        )


@router.post("/auth/token", status_code=status.HTTP_201_CREATED, summary="Issue an API token")
def issue_token(body: TokenRequest, runtime: RuntimeDep) -> TokenOut:
    """Check user name and password, then issue a bearer token (401 wrong, 423 locked)."""
    principal = authenticate(runtime, body.username, body.password)
    ttl = timedelta(hours=runtime.settings.token_ttl_hours)
    with unit_of_work(runtime) as session:
        issued = credentials.issue_token(session, runtime.audit, principal, body.label, ttl)
    return TokenOut(token=issued.token, expires_at=issued.expires_at)


@router.get("/me", summary="The caller")
def me(principal: CurrentPrincipal) -> MeOut:
    """Who the token belongs to: user, organization and roles."""
    return MeOut.of(principal)


@router.get("/organizations", summary="Organizations the caller may see")
def list_organizations(runtime: RuntimeDep, principal: CurrentPrincipal) -> list[OrganizationOut]:
    """All organizations for manufacturer staff; only their own for hospital staff."""
    with unit_of_work(runtime) as session:
        return [OrganizationOut.of(o) for o in service.list_organizations(session, principal)]


@router.post("/organizations", status_code=status.HTTP_201_CREATED, summary="Create a hospital")
def create_organization(
    body: OrganizationIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> OrganizationOut:
    """Manufacturer admins create hospital organizations."""
    with unit_of_work(runtime) as session:
        org = service.create_organization(session, runtime.audit, principal, body.name, body.kind)
        return OrganizationOut.of(org)


@router.get("/organizations/{org_id}", summary="One organization")
def get_organization(
    org_id: int, runtime: RuntimeDep, principal: CurrentPrincipal
) -> OrganizationOut:
    """An organization the caller may see (404 otherwise)."""
    with unit_of_work(runtime) as session:
        return OrganizationOut.of(service.get_organization(session, principal, org_id))


@router.get("/organizations/{org_id}/sites", summary="Sites of an organization")
def list_sites(org_id: int, runtime: RuntimeDep, principal: CurrentPrincipal) -> list[SiteOut]:
    """The organization's sites by name."""
    with unit_of_work(runtime) as session:
        return [SiteOut.of(site) for site in service.list_sites(session, principal, org_id)]


@router.post(
    "/organizations/{org_id}/sites", status_code=status.HTTP_201_CREATED, summary="Add a site"
)
def create_site(
    org_id: int, body: SiteIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> SiteOut:
    """Admins of the organization (or the manufacturer) add sites with an IANA time zone."""
    with unit_of_work(runtime) as session:
        site = service.create_site(
            session, runtime.audit, principal, org_id, body.name, body.timezone
        )
        return SiteOut.of(site)


@router.get("/sites/{site_id}", summary="One site with its departments")
def get_site(site_id: int, runtime: RuntimeDep, principal: CurrentPrincipal) -> SiteDetailOut:
    """A site the caller may see, with its departments (404 otherwise)."""
    with unit_of_work(runtime) as session:
        site = service.get_site(session, principal, site_id)
        return SiteDetailOut(
            **SiteOut.of(site).model_dump(),
            departments=[DepartmentOut.of(d) for d in site.departments],
        )


@router.post(
    "/sites/{site_id}/departments",
    status_code=status.HTTP_201_CREATED,
    summary="Add a department to a site",
)
def create_department(
    site_id: int, body: DepartmentIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> DepartmentOut:
    """Admins of the site's organization (or the manufacturer) add departments."""
    with unit_of_work(runtime) as session:
        department = service.create_department(
            session, runtime.audit, principal, site_id, body.name
        )
        return DepartmentOut.of(department)


@router.get("/organizations/{org_id}/users", summary="Users of an organization")
def list_users(org_id: int, runtime: RuntimeDep, principal: CurrentPrincipal) -> list[UserOut]:
    """Admins and auditors list the users of an organization they may see."""
    with unit_of_work(runtime) as session:
        return [UserOut.of(user) for user in service.list_users(session, principal, org_id)]


@router.post(
    "/organizations/{org_id}/users", status_code=status.HTTP_201_CREATED, summary="Add a user"
)
def create_user(
    org_id: int, body: UserIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> UserOut:
    """Admins of the organization (or the manufacturer) add users with roles."""
    roles = parse_roles(body.roles)
    new = service.NewUser(body.username, body.full_name, body.password, roles, body.email)
    with unit_of_work(runtime) as session:
        user = service.create_user(
            session, runtime.audit, runtime.passwords, principal, org_id, new
        )
        return UserOut.of(user)
