"""``medfleet vulns assess|deadlines|check-deadlines|policy|campaign``: risk assessments, patch
deadlines, overdue alerts and out-of-cycle campaigns.

``check-deadlines`` runs the worker's deadline check once; like ``medfleet worker`` it needs no
user. Every command prints one JSON document with ``--json`` (the API's documents).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as, opened
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.db.engine import transaction
from medfleet.vulns import assessments, deadline_views, patch_policy
from medfleet.vulns.deadline_alerts import check_deadlines
from medfleet.vulns.deadline_views import AssessmentView
from medfleet.vulns.deadlines import FDA_FIX_DAYS, FDA_INFORM_DAYS, DeadlineState, DeadlineStatus
from medfleet.vulns.errors import InvalidAssessmentError
from medfleet.vulns.out_of_cycle import start_out_of_cycle_campaign

VulnId = Annotated[str, typer.Argument(help="Vulnerability id or alias, e.g. CVE-2014-0160.")]


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time with a zone (``2026-01-15T09:00Z``), or None.

    Raises:
        InvalidAssessmentError: not ISO 8601, or without a time zone.
    """
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidAssessmentError(f"{option}: {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InvalidAssessmentError(f"{option}: {value!r} needs a time zone, e.g. Z or +01:00")
    return moment


def parse_release(value: str, option: str) -> tuple[str, str]:
    """``MODEL/VERSION`` as (model, version).

    Raises:
        InvalidAssessmentError: not of that form.
    """
    model, _, version = value.partition("/")
    if not model.strip() or not version.strip():
        raise InvalidAssessmentError(f"{option}: {value!r} is not MODEL/VERSION, e.g. IP-100/4.2.0")
    return model.strip(), version.strip()


def _status(status: DeadlineStatus | None) -> str:
    if status is None:
        return "-"
    if status.state is DeadlineState.MET:
        assert status.met_at is not None
        return f"met{' late' if status.late else ''} {status.met_at:%Y-%m-%d}"
    if status.state is DeadlineState.PENDING:
        return f"{status.days_left} days left"
    return f"OVERDUE by {status.days_overdue} days"


def _cell(status: DeadlineStatus | None) -> str:
    return "-" if status is None else f"{status.due_at:%Y-%m-%d %H:%M}\n{_status(status)}"


def _table(views: list[AssessmentView]) -> Table:
    table = Table("vulnerability", "risk", "aware", "inform by", "fix by", "fixed release")
    for view in views:
        row = view.assessment
        table.add_row(
            view.vulnerability,
            f"{row.risk}{', critical' if row.critical else ''}",
            f"{row.aware_at:%Y-%m-%d}",
            _cell(view.inform),
            _cell(view.fix),
            view.fixed_release or "-",
            style="bold red" if view.overdue else None,
        )
    return table


@handle_errors
def assess_command(
    vuln_id: VulnId,
    user: UserOption,
    risk: Annotated[str, typer.Option("--risk", help="controlled or uncontrolled.")],
    rationale: Annotated[str, typer.Option("--rationale", help="Why this risk level.")],
    critical: Annotated[
        bool, typer.Option("--critical", help="Critical: may start an out-of-cycle campaign.")
    ] = False,
    controls: Annotated[
        str, typer.Option("--controls", help="Interim compensating controls.")
    ] = "",
    planned_fix: Annotated[str, typer.Option("--planned-fix", help="The planned fix.")] = "",
    aware_at: Annotated[
        str | None,
        typer.Option(
            "--aware-at", help="When you became aware (ISO 8601; default now or as before)."
        ),
    ] = None,
    fixed_release: Annotated[
        str | None, typer.Option("--fixed-release", help="The fixing release, MODEL/VERSION.")
    ] = None,
    fix_distributed_at: Annotated[
        str | None,
        typer.Option("--fix-distributed-at", help="When the fix went out (ISO 8601)."),
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Assess (or re-assess) a vulnerability and compute its patch deadlines."""
    aware = parse_time(aware_at, "--aware-at")
    distributed = parse_time(fix_distributed_at, "--fix-distributed-at")
    fixed = None if fixed_release is None else parse_release(fixed_release, "--fixed-release")
    with acting_as(data_dir, user) as (runtime, principal, session):
        now = runtime.clock.now()
        assessments.assess(
            session, runtime.audit, principal, vuln_id, risk=risk, critical=critical,
            rationale=rationale, compensating_controls=controls, planned_fix=planned_fix,
            aware_at=aware, fixed_release=fixed, fix_distributed_at=distributed, now=now,
        )  # fmt: skip
        view = deadline_views.view_assessment(session, principal, vuln_id, now)
    if as_json:
        emit_json(view.as_dict())
        return
    console.print(_table([view]))


@handle_errors
def deadlines_command(
    user: UserOption,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue deadlines.")] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Every assessment with its inform and fix deadlines; overdue ones first, in red."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        views = deadline_views.list_deadlines(
            session, principal, runtime.clock.now(), overdue_only=overdue
        )
        documents = [view.as_dict() for view in views]
        table = _table(views)
    if as_json:
        emit_json({"assessments": documents})
    elif not views:
        console.print("no overdue deadlines" if overdue else "no assessments")
    else:
        console.print(table)


@handle_errors
def check_deadlines_command(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Run the overdue-deadline check once (what the worker does every cycle)."""
    with opened(data_dir) as runtime, transaction(runtime.sessions) as session:
        check = check_deadlines(session, runtime.audit, runtime.clock.now())
    alerts = ", ".join(f"{alert.vulnerability} {alert.kind}" for alert in check.alerts)
    report(as_json, check.as_dict(), f"new overdue alerts: {alerts or 'none'}")


policy_app = typer.Typer(
    help="Patch policy: the routine cycle and the uncontrolled-risk deadlines.",
    no_args_is_help=True,
)


@policy_app.command("show")
@handle_errors
def policy_show_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Show the patch policy (the defaults until one is set)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = patch_policy.get_policy(session, principal).as_dict()
    report(as_json, document, _policy_text(document))


def _policy_text(document: dict[str, object]) -> str:
    origin = "declared" if document["declared"] else "defaults"
    return (
        f"routine cycle {document['routine_cycle_days']} days; uncontrolled risk: inform within "
        f"{document['inform_within_days']} days, fix within {document['fix_within_days']} days "
        f"({origin})"
    )


@policy_app.command("set")
@handle_errors
def policy_set_command(
    user: UserOption,
    routine_cycle_days: Annotated[
        int, typer.Option("--routine-cycle-days", help="Days between routine updates.")
    ],
    inform_days: Annotated[
        int, typer.Option("--inform-days", help="Uncontrolled risk: inform within (at most 30).")
    ] = FDA_INFORM_DAYS,
    fix_days: Annotated[
        int, typer.Option("--fix-days", help="Uncontrolled risk: fix within (at most 60).")
    ] = FDA_FIX_DAYS,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Declare the patch policy; assessments made from now on use it."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        document = patch_policy.set_policy(
            session, runtime.audit, principal, routine_cycle_days=routine_cycle_days,
            inform_within_days=inform_days, fix_within_days=fix_days, now=runtime.clock.now(),
        ).as_dict()  # fmt: skip
    report(as_json, document, _policy_text(document))


@handle_errors
def campaign_command(
    vuln_id: VulnId,
    user: UserOption,
    release: Annotated[str, typer.Option("--release", help="The fixing release, MODEL/VERSION.")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Start an out-of-cycle (critical) campaign of a fixing release for a critical finding."""
    model, version = parse_release(release, "--release")
    with acting_as(data_dir, user) as (runtime, principal, session):
        started = start_out_of_cycle_campaign(
            session, runtime.audit, principal, vuln_id, model=model, version=version,
            now=runtime.clock.now(),
        )  # fmt: skip
        document = started.as_dict()
    report(
        as_json,
        document,
        f"{document['campaign']} started: {document['release']} to "
        f"{document['affected_devices']} affected devices",
    )


def register(app: typer.Typer) -> None:
    """Add the assessment, deadline, policy and out-of-cycle campaign commands."""
    app.command("assess")(assess_command)
    app.command("deadlines")(deadlines_command)
    app.command("check-deadlines")(check_deadlines_command)
    app.command("campaign")(campaign_command)
    app.add_typer(policy_app, name="policy")
