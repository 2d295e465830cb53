"""``medfleet campaign``: create, watch, pause, resume, abort and roll back campaigns.

Every command prints one JSON document with ``--json`` (the same documents the API returns).
``create`` takes the policy as a JSON file (``--policy``) or as a shorthand: ``--phases
10,50,100`` are cumulative percentages of the production devices, ``--success`` and
``--error`` the thresholds of every phase. ``advance`` runs one scheduler cycle now (what the
worker does periodically); it needs no user, like ``medfleet worker``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.cli.context import DataDir, Json, UserOption, acting_as, opened, sign_in
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.db.engine import transaction
from medfleet.rollouts import campaign_views, rollback, service
from medfleet.rollouts.campaign_errors import InvalidCampaignError
from medfleet.rollouts.director_sync import sync_director
from medfleet.rollouts.scheduler import advance_campaigns
from medfleet.rollouts.window_access import resolve_hospital, resolve_site

app = typer.Typer(
    help="Campaigns: phased rollouts, pause, resume, abort, rollback.", no_args_is_help=True
)

Key = Annotated[str, typer.Argument(help="Campaign key, e.g. CMP-1.")]
PolicyFile = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy as a JSON file (phases, canary, rate, abort_criteria)."),
]


def _read_policy(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidCampaignError(f"cannot read the policy file {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidCampaignError(f"the policy file {path} must hold a JSON object")
    return document


def shorthand_policy(phases: str, success: float, error: float) -> dict[str, Any]:
    """A policy from ``10,50,100`` (cumulative percentages) and thresholds for every phase.

    Raises:
        InvalidCampaignError: a share that is not a number.
    """
    shares = []
    for part in phases.split(","):
        try:
            shares.append(float(part.strip()))
        except ValueError:
            raise InvalidCampaignError(
                f"--phases takes cumulative percentages like 10,50,100, not {phases!r}"
            ) from None
    return {
        "phases": [
            {
                "name": f"phase {index}",
                "cumulative_percent": share,
                "success_threshold": success,
                "error_threshold": error,
            }
            for index, share in enumerate(shares, start=1)
        ]
    }


def _policy(
    policy_file: Path | None, phases: str | None, success: float, error: float
) -> dict[str, Any]:
    if policy_file is not None and phases is not None:
        raise InvalidCampaignError("give --policy or --phases, not both")
    if policy_file is not None:
        return _read_policy(policy_file)
    if phases is None:
        raise InvalidCampaignError("give the policy: --policy FILE.json or --phases 10,50,100")
    return shorthand_policy(phases, success, error)


def _selection(
    session: Session,
    principal: Principal,
    *,
    hospitals: list[str],
    sites: list[str],
    revisions: list[str],
    tags: list[str],
    versions: list[str],
    test_devices: str,
) -> dict[str, Any]:
    return {
        "hospital_ids": [resolve_hospital(session, principal, ref).id for ref in hospitals],
        "site_ids": [resolve_site(session, principal, ref).id for ref in sites],
        "hardware_revisions": revisions,
        "tags": tags,
        "current_versions": versions,
        "test_devices": test_devices,
    }


def _print(document: dict[str, Any]) -> None:
    release = document["release"]
    console.print(
        f"[bold]{document['key']}[/] {document['name']}: {release['release_id']} "
        f"({document['kind']}, {document['urgency']}) [bold]{document['state']}[/]"
    )
    for label in ("pause_reason", "abort_reason"):
        if document.get(label):
            console.print(f"  {label.replace('_', ' ')}: {document[label]}")
    table = Table("phase", "name", "devices", "waiting", "held", "awaiting", "assigned",
                  "succeeded", "failed", "rolled back", "timed out", "cancelled")  # fmt: skip
    for phase in document["phases"]:
        counts = phase["statuses"]
        marker = "*" if phase["phase"] == document["current_phase"] else ""
        table.add_row(
            f"{phase['phase']}{marker}", phase["name"], str(phase["devices"]),
            *(str(counts[s]) for s in ("waiting", "held", "awaiting_acceptance", "assigned",
                                       "succeeded", "failed", "rolled_back", "timed_out",
                                       "cancelled")),
        )  # fmt: skip
    console.print(table)


def _show(as_json: bool, document: dict[str, Any]) -> None:
    if as_json:
        emit_json(document)
    else:
        _print(document)


@app.command("create")
@handle_errors
def create_command(
    user: UserOption,
    model: Annotated[str, typer.Option("--model", help="Device model, e.g. IP-100.")],
    version: Annotated[str, typer.Option("--version", help="Release version, e.g. 4.2.0.")],
    name: Annotated[str, typer.Option("--name", help="What people call the campaign.")],
    urgency: Annotated[
        str, typer.Option("--urgency", help="routine (windows only) or critical.")
    ] = "routine",
    hospital: Annotated[
        list[str] | None, typer.Option(help="Only this hospital, id or name (repeatable).")
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option(help="Only this site, id or name (repeatable).")
    ] = None,
    hardware_revision: Annotated[
        list[str] | None, typer.Option(help="Only this hardware revision (repeatable).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only devices with this tag (repeatable).")
    ] = None,
    from_version: Annotated[
        list[str] | None, typer.Option(help="Only devices running this version (repeatable).")
    ] = None,
    test_devices: Annotated[
        str, typer.Option("--test-devices", help="include, exclude or only.")
    ] = "include",
    policy_file: PolicyFile = None,
    phases: Annotated[
        str | None, typer.Option("--phases", help="Cumulative percentages: 10,50,100.")
    ] = None,
    success: Annotated[float, typer.Option("--success", help="Success threshold %.")] = 100.0,
    error: Annotated[float, typer.Option("--error", help="Error threshold % (pauses).")] = 0.0,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Create a draft campaign; the fleet is planned at once (see 'campaign show')."""
    policy = _policy(policy_file, phases, success, error)
    with acting_as(data_dir, user) as (runtime, principal, session):
        selection = _selection(
            session, principal, hospitals=hospital or [], sites=site or [],
            revisions=hardware_revision or [], tags=tag or [], versions=from_version or [],
            test_devices=test_devices,
        )  # fmt: skip
        campaign = service.create_campaign(
            session, runtime.audit, principal, model=model, version=version, name=name,
            policy=policy, selection=selection, urgency=urgency,
        )  # fmt: skip
        document = campaign_views.describe(session, campaign)
    _show(as_json, document)


@app.command("list")
@handle_errors
def list_command(
    user: UserOption,
    state: Annotated[str | None, typer.Option("--state", help="Only campaigns in it.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Campaigns, newest first."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        found = campaign_views.list_campaigns(session, principal, state=state)
    if as_json:
        emit_json({"campaigns": found})
        return
    table = Table("key", "name", "release", "kind", "urgency", "state", "phase", "devices")
    for c in found:
        table.add_row(c["key"], c["name"], c["release"]["release_id"], c["kind"], c["urgency"],
                      c["state"], str(c["current_phase"]), str(c["devices"]))  # fmt: skip
    console.print(table)


@app.command("show")
@handle_errors
def show_command(
    key: Key, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """One campaign with its progress per phase (* marks the latest started phase)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = campaign_views.get_campaign(session, principal, key)
    _show(as_json, document)


@app.command("devices")
@handle_errors
def devices_command(
    key: Key,
    user: UserOption,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    phase: Annotated[int | None, typer.Option("--phase", help="Only this phase.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The devices of a campaign and where each stands."""
    where = campaign_views.DeviceFilter(status, phase, limit, offset)
    with acting_as(data_dir, user) as (_runtime, principal, session):
        rows = campaign_views.list_devices(session, principal, key, where)
    if as_json:
        emit_json({"devices": rows})
        return
    table = Table("device", "site", "test", "phase", "status", "installs", "window", "detail")
    for d in rows:
        window = d["install_window"]
        table.add_row(
            d["device_id"], str(d["site_id"]), "yes" if d["is_test_device"] else "",
            str(d["phase"]), d["status"], d["step_version"] or "",
            "" if window is None else f"{window['start']} .. {window['end']}", d["detail"] or "",
        )  # fmt: skip
    console.print(table)


def _change(data_dir: DataDir, user: str, as_json: bool, key: str, act: Any) -> None:
    """Run ``act(session, runtime, principal)`` in one transaction, then bring the director in
    line (after the commit) and show the campaign."""
    with opened(data_dir) as runtime:
        principal = sign_in(runtime, user)
        with transaction(runtime.sessions) as session:
            act(session, runtime, principal)
        sync_director(runtime)
        with transaction(runtime.sessions) as session:
            document = campaign_views.get_campaign(session, principal, key)
    _show(as_json, document)


@app.command("schedule")
@handle_errors
def schedule_command(
    key: Key,
    user: UserOption,
    at: Annotated[
        str | None, typer.Option("--at", help="Start time, ISO 8601 with zone (default: now).")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Schedule a draft campaign; the scheduler starts it when due."""
    when: datetime | None = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise InvalidCampaignError(f"--at {at!r} is not an ISO 8601 time") from None
    _change(data_dir, user, as_json, key,
            lambda s, rt, p: service.schedule(s, rt.audit, p, key, when))  # fmt: skip


@app.command("start")
@handle_errors
def start_command(
    key: Key, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Start a campaign now (a draft is scheduled for now first)."""
    _change(data_dir, user, as_json, key, lambda s, rt, p: service.start(s, rt.audit, p, key))


@app.command("pause")
@handle_errors
def pause_command(
    key: Key,
    user: UserOption,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Pause a running campaign; instructions not acted on yet are withdrawn."""
    _change(data_dir, user, as_json, key,
            lambda s, rt, p: service.pause(s, rt.audit, p, key, reason))  # fmt: skip


@app.command("resume")
@handle_errors
def resume_command(
    key: Key, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Resume a paused campaign (its failures so far are acknowledged)."""
    _change(data_dir, user, as_json, key, lambda s, rt, p: service.resume(s, rt.audit, p, key))


@app.command("abort")
@handle_errors
def abort_command(
    key: Key,
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Abort a campaign; devices without an outcome are let go and their instructions cleared."""
    _change(data_dir, user, as_json, key,
            lambda s, rt, p: service.abort(s, rt.audit, p, key, reason))  # fmt: skip


@app.command("rollback")
@handle_errors
def rollback_command(
    key: Key,
    user: UserOption,
    to: Annotated[
        str | None, typer.Option("--to", help="Version to return to (default: the previous).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    urgency: Annotated[str | None, typer.Option("--urgency")] = None,
    policy_file: PolicyFile = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Create a draft rollback campaign for the devices that succeeded in a campaign."""
    policy = None if policy_file is None else _read_policy(policy_file)
    with acting_as(data_dir, user) as (runtime, principal, session):
        campaign = rollback.create_rollback(
            session, runtime.audit, principal, key, name=name, version=to, policy=policy,
            urgency=urgency,
        )  # fmt: skip
        document = campaign_views.describe(session, campaign)
    _show(as_json, document)


@app.command("advance")
@handle_errors
def advance_command(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Run one scheduler cycle now: start due campaigns, read results, move phases, assign."""
    with opened(data_dir) as runtime:
        summary = advance_campaigns(runtime)
    report(as_json, summary, " ".join(f"{k}={v}" for k, v in summary.items()))
