"""``medfleet acceptance``: a hospital reads pending releases and approves them per site."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.accounts.tables import Site
from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.rollouts import acceptance, acceptance_policies, acceptance_views
from medfleet.rollouts.acceptance_errors import AcceptanceNotFoundError
from medfleet.rollouts.acceptance_render import decision_dict, policy_dict

app = typer.Typer(
    help="Hospital acceptance: pending releases, approval per site, auto-approval policies.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="Auto-approval policies per campaign urgency.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

Model = Annotated[str, typer.Argument(help="Device model, e.g. IP-100.")]
Version = Annotated[str, typer.Argument(help="Release version, e.g. 4.2.0.")]
SiteOption = Annotated[str, typer.Option("--site", help="Site id or name (of your hospital).")]
Comment = Annotated[str | None, typer.Option("--comment", help="Why (kept in the audit trail).")]


def resolve_site(session: Session, principal: Principal, site: str) -> int:
    """A site id from an id or a name of one of the caller's organization's sites.

    Raises:
        AcceptanceNotFoundError: no such site of the caller's organization.
    """
    if site.isdigit():
        return int(site)
    found = session.scalar(
        select(Site.id).where(Site.name == site, Site.org_id == principal.org_id)
    )
    if found is None:
        raise AcceptanceNotFoundError(f"no site named {site!r} in your organization")
    return found


def _show(entries: list[acceptance_views.PendingRelease], as_json: bool) -> None:
    if as_json:
        emit_json({"releases": [entry.as_dict() for entry in entries]})
        return
    if not entries:
        console.print("no pending releases")
    for entry in entries:
        release = entry.release
        console.print(f"[bold]{release.model} {release.version}[/] ({release.version_number})")
        console.print(f"  what changed: {release.notes_what_changed}")
        console.print(f"  risk summary: {release.notes_risk_summary}")
        console.print(f"  expected downtime: {release.notes_downtime_minutes} min")
        console.print(f"  compatibility: {release.notes_compatibility}")
        table = Table("site", "test", "production", "decision", "production confirmed")
        for site in entry.sites:
            table.add_row(
                site.site,
                str(site.test_devices),
                str(site.production_devices),
                site.decision or "-",
                "yes" if site.production_confirmed else "no",
            )
        console.print(table)


@app.command("pending")
@handle_errors
def pending_command(
    user: UserOption,
    include_decided: Annotated[
        bool, typer.Option("--all", help="Also releases every site decided on.")
    ] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Releases your hospital's devices could install, with notes and each site's decision."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        entries = acceptance_views.pending_releases(
            session, principal, include_decided=include_decided
        )
        _show(entries, as_json)


@app.command("status")
@handle_errors
def status_command(
    model: Model,
    version: Version,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """How every concerned site (yours, for a hospital user) stands on one release."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        _show([acceptance_views.release_status(session, principal, model, version)], as_json)


def _decide(
    model: str,
    version: str,
    site: str,
    user: str,
    data_dir: DataDir,
    as_json: bool,
    *,
    approve: bool,
    comment: str | None,
    out_of_cycle: bool = False,
) -> None:
    with acting_as(data_dir, user) as (runtime, principal, session):
        row = acceptance.decide(
            session,
            runtime.audit,
            principal,
            model=model,
            version=version,
            site_id=resolve_site(session, principal, site),
            approve=approve,
            comment=comment,
            out_of_cycle_consent=out_of_cycle,
        )
        document = decision_dict(row)
    report(as_json, document, f"{row.decision} {model} {version} for site {row.site_id}")


@app.command("approve")
@handle_errors
def approve_command(
    model: Model,
    version: Version,
    site: SiteOption,
    user: UserOption,
    comment: Comment = None,
    out_of_cycle: Annotated[
        bool,
        typer.Option("--out-of-cycle", help="Consent to critical installs outside windows."),
    ] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Approve a release for one of your sites (test devices go first)."""
    _decide(
        model, version, site, user, data_dir, as_json,
        approve=True, comment=comment, out_of_cycle=out_of_cycle,
    )  # fmt: skip


@app.command("decline")
@handle_errors
def decline_command(
    model: Model,
    version: Version,
    site: SiteOption,
    user: UserOption,
    comment: Comment = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Decline a release for one of your sites (no device of the site gets it)."""
    _decide(model, version, site, user, data_dir, as_json, approve=False, comment=comment)


@app.command("confirm")
@handle_errors
def confirm_command(
    model: Model,
    version: Version,
    site: SiteOption,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Confirm that a site's production devices may follow its test devices."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        row = acceptance.confirm_production(
            session,
            runtime.audit,
            principal,
            model=model,
            version=version,
            site_id=resolve_site(session, principal, site),
        )
        document = decision_dict(row)
    report(as_json, document, f"production confirmed for {model} {version} at site {row.site_id}")


@policy_app.command("set")
@handle_errors
def policy_set_command(
    user: UserOption,
    urgency: Annotated[str, typer.Option("--urgency", help="routine or critical.")],
    site: Annotated[
        str | None, typer.Option("--site", help="One site (default: every site).")
    ] = None,
    confirm_production: Annotated[
        bool, typer.Option("--confirm-production", help="Also confirm production in advance.")
    ] = False,
    out_of_cycle: Annotated[
        bool, typer.Option("--out-of-cycle", help="Critical only: consent to out-of-cycle.")
    ] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Approve campaigns of an urgency automatically (replaces the same scope's policy)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        policy = acceptance_policies.set_policy(
            session,
            runtime.audit,
            principal,
            site_id=None if site is None else resolve_site(session, principal, site),
            urgency=acceptance.parse_urgency(urgency),
            confirm_production=confirm_production,
            out_of_cycle=out_of_cycle,
        )
        document = policy_dict(policy)
    report(as_json, document, f"auto-approval policy {document['id']} set")


@policy_app.command("list")
@handle_errors
def policy_list_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Your hospital's auto-approval policies (every hospital's for the manufacturer)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        policies = [policy_dict(p) for p in acceptance_policies.list_policies(session, principal)]
    if as_json:
        emit_json({"policies": policies})
        return
    table = Table("id", "hospital", "site", "urgency", "confirm production", "out of cycle")
    for p in policies:
        table.add_row(
            str(p["id"]), str(p["org_id"]), str(p["site_id"] or "all"), str(p["urgency"]),
            str(p["confirm_production"]), str(p["out_of_cycle"]),
        )  # fmt: skip
    console.print(table)


@policy_app.command("remove")
@handle_errors
def policy_remove_command(
    policy_id: Annotated[int, typer.Argument(help="Policy id.")],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Remove one of your hospital's auto-approval policies."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        acceptance_policies.remove_policy(session, runtime.audit, principal, policy_id)
    report(as_json, {"removed": policy_id}, f"auto-approval policy {policy_id} removed")
