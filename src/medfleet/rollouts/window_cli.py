"""``medfleet windows``: maintenance windows, blackout periods and upcoming openings.

Sites, departments and hospitals are given by id or name. Local times are in the site's IANA
zone; ``upcoming`` prints each opening in local time with the zone abbreviation and UTC offset
(``Sat 2026-03-28 02:00 CET (+01:00) → 06:00 CET (+01:00) (4h)``) and says when a clock change
moved a start.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.rollouts import window_service as service
from medfleet.rollouts.window_access import resolve_department, resolve_hospital, resolve_site
from medfleet.rollouts.window_errors import InvalidWindowError
from medfleet.rollouts.window_render import (
    blackout_document,
    opening_document,
    window_document,
)
from medfleet.rollouts.windows import format_duration, parse_duration, parse_start

_MINUTE = timedelta(minutes=1)

app = typer.Typer(help="Maintenance windows and blackout periods.", no_args_is_help=True)
blackout_app = typer.Typer(help="Blackout periods (holiday freezes).", no_args_is_help=True)
app.add_typer(blackout_app, name="blackout")

SiteOption = Annotated[str, typer.Option("--site", "-s", help="Site id or name.")]
DepartmentOption = Annotated[
    str | None, typer.Option("--department", help="Department id or name (of the site).")
]


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidWindowError(f"{what} {text!r} is not a date like 2026-12-24") from None


@app.command("add")
@handle_errors
def add_command(
    user: UserOption,
    site: SiteOption,
    name: Annotated[str, typer.Option("--name", help="What the window is called.")],
    start: Annotated[
        str, typer.Option("--start", help="First start, local time: 2026-03-07T02:00.")
    ],
    rrule: Annotated[str, typer.Option("--rrule", help="RFC 5545 RRULE: FREQ=WEEKLY;BYDAY=SA")],
    duration: Annotated[str, typer.Option("--duration", help="4h, 90m or 1h30m.")],
    department: DepartmentOption = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add a recurring maintenance window to a site or department (in the site's zone)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        site_row = resolve_site(session, principal, site)
        department_id = resolve_department(session, site_row, department).id if department else None
        window = service.add_window(
            session,
            runtime.audit,
            principal,
            site_id=site_row.id,
            department_id=department_id,
            name=name,
            start_local=parse_start(start),
            rrule=rrule,
            duration=parse_duration(duration),
        )
        document = window_document(window)
    report(
        as_json,
        document,
        f"added window {document['name']} (id {document['id']}) at {site_row.name}: "
        f"{document['rrule']} from {document['start_local']} {document['timezone']}, "
        f"{format_duration(window.duration_minutes * _MINUTE)}",
    )


@app.command("list")
@handle_errors
def list_command(
    user: UserOption,
    site: Annotated[str | None, typer.Option("--site", "-s", help="Site id or name.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List maintenance windows (of one site, or all you may see)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        site_id = resolve_site(session, principal, site).id if site else None
        documents = [
            window_document(w) for w in service.list_windows(session, principal, site_id=site_id)
        ]
    if as_json:
        emit_json(documents)
        return
    table = Table("id", "site", "dept", "name", "zone", "first start", "rrule", "length")
    for doc in documents:
        table.add_row(
            str(doc["id"]),
            str(doc["site_id"]),
            str(doc["department_id"] or ""),
            doc["name"],
            doc["timezone"],
            doc["start_local"],
            doc["rrule"],
            format_duration(doc["duration_minutes"] * _MINUTE),
        )
    console.print(table)


@app.command("remove")
@handle_errors
def remove_command(
    window_id: int, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Remove a maintenance window (the audit trail keeps what it was)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        window = service.remove_window(session, runtime.audit, principal, window_id)
        document = {"id": window_id, "name": window.name, "removed": True}
    report(as_json, document, f"removed window {window_id} ({document['name']})")


@app.command("upcoming")
@handle_errors
def upcoming_command(
    user: UserOption,
    site: SiteOption,
    department: DepartmentOption = None,
    count: Annotated[int, typer.Option("--count", "-n", help="How many (1-100).")] = 5,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Show the next openings in the site's local time (the one open now first)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        site_row = resolve_site(session, principal, site)
        department_id = resolve_department(session, site_row, department).id if department else None
        found = service.upcoming_detail(
            session,
            principal,
            site_id=site_row.id,
            department_id=department_id,
            count=count,
            after=runtime.clock.now(),
        )
        openings = [opening_document(o, found.windows[o.rule]) for o in found.openings]
        document: dict[str, Any] = {
            "site_id": site_row.id,
            "site": site_row.name,
            "department_id": department_id,
            "timezone": site_row.timezone,
            "openings": openings,
        }
    if as_json:
        emit_json(document)
        return
    if not openings:
        console.print(f"no window opens at {site_row.name} in the next 3 years", markup=False)
        return
    console.print(f"{site_row.name} ({site_row.timezone}):", markup=False, highlight=False)
    for opening in openings:
        console.print(f"  {opening['text']}  {opening['window']}", markup=False, highlight=False)
        if opening["adjusted"]:
            console.print(f"    note: {opening['adjusted']}", markup=False, highlight=False)


@blackout_app.command("add")
@handle_errors
def blackout_add_command(
    user: UserOption,
    first_day: Annotated[str, typer.Option("--from", help="First local day: 2026-12-24.")],
    last_day: Annotated[str, typer.Option("--to", help="Last local day (inclusive).")],
    reason: Annotated[str, typer.Option("--reason", help="Why: 'year-end freeze'.")],
    site: Annotated[str | None, typer.Option("--site", "-s", help="Site id or name.")] = None,
    hospital: Annotated[
        str | None, typer.Option("--hospital", help="Hospital id or name (all its sites).")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add a blackout for one site (--site) or every site of a hospital (--hospital)."""
    if (site is None) == (hospital is None):
        raise InvalidWindowError("give either --site or --hospital")
    first, last = _day(first_day, "--from"), _day(last_day, "--to")
    with acting_as(data_dir, user) as (runtime, principal, session):
        site_id = resolve_site(session, principal, site).id if site else None
        org_id = resolve_hospital(session, principal, hospital).id if hospital else None
        blackout = service.add_blackout(
            session,
            runtime.audit,
            principal,
            first_day=first,
            last_day=last,
            reason=reason,
            site_id=site_id,
            org_id=org_id,
        )
        document = blackout_document(blackout)
    report(
        as_json,
        document,
        f"added blackout {document['id']} ({document['scope']}): "
        f"{document['first_day']} .. {document['last_day']}, {document['reason']}",
    )


@blackout_app.command("list")
@handle_errors
def blackout_list_command(
    user: UserOption,
    site: Annotated[str | None, typer.Option("--site", "-s", help="Site id or name.")] = None,
    hospital: Annotated[str | None, typer.Option("--hospital", help="Hospital id or name.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List blackouts: those applying to a site, of a hospital, or all you may see."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        site_id = resolve_site(session, principal, site).id if site else None
        org_id = resolve_hospital(session, principal, hospital).id if hospital else None
        found = service.list_blackouts(session, principal, site_id=site_id, org_id=org_id)
        documents = [blackout_document(b) for b in found]
    if as_json:
        emit_json(documents)
        return
    table = Table("id", "hospital", "site", "from", "to", "reason")
    for doc in documents:
        table.add_row(
            str(doc["id"]),
            str(doc["org_id"]),
            str(doc["site_id"] or "all"),
            doc["first_day"],
            doc["last_day"],
            doc["reason"],
        )
    console.print(table)


@blackout_app.command("remove")
@handle_errors
def blackout_remove_command(
    blackout_id: int, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Remove a blackout (the audit trail keeps what it was)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        service.remove_blackout(session, runtime.audit, principal, blackout_id)
    report(as_json, {"id": blackout_id, "removed": True}, f"removed blackout {blackout_id}")
