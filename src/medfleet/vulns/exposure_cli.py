"""``medfleet vulns exposure`` and ``medfleet vulns notices``: who runs a vulnerable release,
and what each hospital is told about it."""

from __future__ import annotations

from typing import Annotated

import typer

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.vulns import notices
from medfleet.vulns.exposure import vulnerability_exposure
from medfleet.vulns.exposure_render import (
    exposure_dict,
    exposure_text,
    issue_dict,
    notice_dict,
    notice_text,
    notices_table,
)

VulnerabilityId = Annotated[str, typer.Argument(help="CVE, GHSA or any other alias.")]
NoticeId = Annotated[int, typer.Argument(help="Notice id (from 'notices list').")]

notices_app = typer.Typer(
    help="Hospital notices: issue them per vulnerability, read and acknowledge them.",
    no_args_is_help=True,
)


@handle_errors
def exposure_command(
    vulnerability: VulnerabilityId,
    user: UserOption,
    device_limit: Annotated[
        int | None,
        typer.Option("--device-limit", min=0, help="List at most N devices (counts stay whole)."),
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Affected releases, fixes, and the hospitals, sites and devices running them (yours only,
    for a hospital user)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        exposure = vulnerability_exposure(
            session, principal, vulnerability, device_limit=device_limit
        )
    if as_json:
        emit_json(exposure_dict(exposure))
    else:
        console.print(exposure_text(exposure))


@notices_app.command("issue")
@handle_errors
def issue_command(
    vulnerability: VulnerabilityId,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Issue or revise each affected hospital's notice (manufacturer; needs an assessment)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        issue = notices.issue_notices(
            session, runtime.audit, principal, vulnerability, runtime.clock.now()
        )
        document = issue_dict(issue)
    issued = ", ".join(f"{v.hospital} (revision {v.notice.revision})" for v in issue.issued)
    report(
        as_json,
        document,
        f"{issue.vulnerability_key}: {len(issue.issued)} notice(s) issued"
        + (f": {issued}" if issued else "")
        + f"; {len(issue.unchanged)} unchanged",
    )


@notices_app.command("list")
@handle_errors
def list_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Your hospital's notices (every hospital's, with acknowledgements, for the manufacturer)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        views = notices.list_notices(session, principal)
        documents = [notice_dict(view, with_content=False) for view in views]
        table = notices_table(views)
    if as_json:
        emit_json({"notices": documents})
    else:
        console.print(table)


@notices_app.command("show")
@handle_errors
def show_command(
    notice_id: NoticeId, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """One notice: the vulnerability, controls, planned fix and the affected devices."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        view = notices.get_notice(session, principal, notice_id)
        document = notice_dict(view)
        text = notice_text(view)
    if as_json:
        emit_json(document)
    else:
        console.print(text)


@notices_app.command("ack")
@handle_errors
def ack_command(
    notice_id: NoticeId, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Acknowledge your hospital's notice (its latest revision; admin, biomed or IT)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        view = notices.acknowledge(
            session, runtime.audit, principal, notice_id, runtime.clock.now()
        )
        document = notice_dict(view, with_content=False)
    report(as_json, document, f"notice {notice_id} acknowledged by {view.acknowledged_by}")


def register(app: typer.Typer) -> None:
    """Add ``exposure`` and the ``notices`` sub-app to the ``medfleet vulns`` app."""
    app.command("exposure")(exposure_command)
    app.add_typer(notices_app, name="notices")
