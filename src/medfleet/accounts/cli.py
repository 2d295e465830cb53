"""``medfleet accounts``: organizations, sites, departments, users and API tokens.

Commands that change something act as ``--user`` (password from ``MEDFLEET_PASSWORD`` or a
prompt), under the same role and organization rules as the API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from medfleet.accounts import service
from medfleet.accounts.credentials import issue_token
from medfleet.accounts.model import OrgKind, parse_roles
from medfleet.accounts.service import NewUser
from medfleet.accounts.tables import Organization, Site, User
from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, read_secret, report

app = typer.Typer(help="Organizations, sites, departments, users, tokens.", no_args_is_help=True)


def org_dict(org: Organization) -> dict[str, object]:
    """An organization as JSON-ready data."""
    return {"id": org.id, "name": org.name, "kind": org.kind.value}


def site_dict(site: Site) -> dict[str, object]:
    """A site with its departments as JSON-ready data."""
    return {
        "id": site.id,
        "org_id": site.org_id,
        "name": site.name,
        "timezone": site.timezone,
        "departments": [{"id": d.id, "name": d.name} for d in site.departments],
    }


def user_dict(user: User) -> dict[str, object]:
    """A user as JSON-ready data (never the password hash)."""
    return {
        "id": user.id,
        "org_id": user.org_id,
        "username": user.username,
        "full_name": user.full_name,
        "roles": sorted(r.value for r in user.roles),
        "active": user.active,
    }


@app.command("orgs")
@handle_errors
def list_orgs(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """List the organizations you may see."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        orgs = [org_dict(o) for o in service.list_organizations(session, principal)]
    if as_json:
        emit_json(orgs)
        return
    table = Table("id", "name", "kind")
    for org in orgs:
        table.add_row(str(org["id"]), str(org["name"]), str(org["kind"]))
    console.print(table)


@app.command("add-hospital")
@handle_errors
def add_hospital(
    name: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Create a hospital organization (manufacturer admins)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        org = org_dict(
            service.create_organization(session, runtime.audit, principal, name, OrgKind.HOSPITAL)
        )
    report(as_json, org, f"created hospital {org['name']} (id {org['id']})")


@app.command("add-site")
@handle_errors
def add_site(
    org_id: int,
    name: str,
    timezone: Annotated[
        str, typer.Option("--timezone", "-z", help="IANA zone, e.g. Europe/Berlin")
    ],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add a site, with its IANA time zone, to an organization."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        site = site_dict(
            service.create_site(session, runtime.audit, principal, org_id, name, timezone)
        )
    report(as_json, site, f"created site {site['name']} (id {site['id']}, {site['timezone']})")


@app.command("add-department")
@handle_errors
def add_department(
    site_id: int, name: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Add a department to a site."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        department = service.create_department(session, runtime.audit, principal, site_id, name)
        result = {"id": department.id, "site_id": site_id, "name": department.name}
    report(as_json, result, f"created department {name} (id {result['id']})")


@app.command("sites")
@handle_errors
def list_sites(
    org_id: int, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """List an organization's sites and departments."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        sites = [site_dict(s) for s in service.list_sites(session, principal, org_id)]
    if as_json:
        emit_json(sites)
        return
    table = Table("id", "site", "time zone", "departments")
    for site in sites:
        departments = site["departments"]
        assert isinstance(departments, list)
        table.add_row(
            str(site["id"]),
            str(site["name"]),
            str(site["timezone"]),
            ", ".join(d["name"] for d in departments),
        )
    console.print(table)


@app.command("add-user")
@handle_errors
def add_user(
    org_id: int,
    username: str,
    full_name: Annotated[str, typer.Option("--name", help="Printed name, as on signatures.")],
    roles: Annotated[list[str], typer.Option("--role", "-r", help="Repeat for several roles.")],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Create a user; the new user's password comes from MEDFLEET_NEW_PASSWORD or a prompt."""
    password = read_secret(
        f"password for new user {username}", "MEDFLEET_NEW_PASSWORD", confirm=True
    )
    with acting_as(data_dir, user) as (runtime, principal, session):
        created = user_dict(
            service.create_user(
                session,
                runtime.audit,
                runtime.passwords,
                principal,
                org_id,
                NewUser(username, full_name, password, parse_roles(roles)),
            )
        )
    report(as_json, created, f"created user {username}")


@app.command("users")
@handle_errors
def list_users(
    org_id: int, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """List an organization's users (admins and auditors)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        users = [user_dict(u) for u in service.list_users(session, principal, org_id)]
    if as_json:
        emit_json(users)
        return
    table = Table("user", "name", "roles")
    for row in users:
        roles = row["roles"]
        assert isinstance(roles, list)
        table.add_row(str(row["username"]), str(row["full_name"]), ", ".join(roles))
    console.print(table)


@app.command("token")
@handle_errors
def create_token(
    user: UserOption,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Issue an API token for yourself; it is shown once."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        ttl = timedelta(hours=runtime.settings.token_ttl_hours)
        token = issue_token(session, runtime.audit, principal, label, ttl).token
    report(as_json, {"token": token}, token)
