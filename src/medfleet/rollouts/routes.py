"""HTTP endpoints of campaigns: create, read, list devices, schedule, start, pause, resume,
abort and roll back.

Campaigns are the manufacturer's: hospital staff get 404 for every campaign (before any body is
acted on) and an empty list. Each change is one use case in one transaction; pausing and
aborting then clear the withdrawn instructions in the director (``director_sync``), after the
commit, so the database never lags behind what devices are told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.rollouts import campaign_views, rollback, service
from medfleet.rollouts.director_sync import sync_director

router = APIRouter(prefix=f"{API_PREFIX}/campaigns", tags=["campaigns"])
ONE = "/{key}"


class CampaignIn(BaseModel):
    """A new campaign: the release, who gets it (``selection``) and how (``policy``)."""

    name: str = Field(max_length=200)
    model: str = Field(max_length=64)
    version: str = Field(max_length=32)
    urgency: str | None = Field(default=None, description="routine or critical")
    selection: dict[str, Any] = Field(
        default_factory=dict,
        description="models, hardware_revisions, hospital_ids, site_ids, current_versions, "
        "tags, test_devices (include | exclude | only); empty: every device of the model",
    )
    policy: dict[str, Any] = Field(
        description="phases (percent, cumulative_percent or group; success_threshold, "
        "error_threshold), canary, rate, abort_criteria, urgency"
    )


class ScheduleIn(BaseModel):
    """When to start (aware; none: at the scheduler's next cycle)."""

    at: datetime | None = None


class PauseIn(BaseModel):
    """Why the campaign pauses (kept in the audit trail)."""

    reason: str | None = Field(default=None, max_length=2000)


class AbortIn(BaseModel):
    """Why the campaign is aborted (required, kept in the audit trail)."""

    reason: str = Field(max_length=2000)


class RollbackIn(BaseModel):
    """A rollback campaign: by default to the release most devices ran before."""

    name: str | None = Field(default=None, max_length=200)
    version: str | None = Field(default=None, max_length=32)
    urgency: str | None = None
    policy: dict[str, Any] | None = None


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a draft campaign")
def create_campaign(body: CampaignIn, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    """Plan the fleet into phases and store a draft (admin or fleet operator); 404 for
    hospital staff or an unknown release, 409 for a release not released or withdrawn, 422
    with ``field`` for a bad selection or policy."""
    with unit_of_work(runtime) as session:
        campaign = service.create_campaign(
            session,
            runtime.audit,
            me,
            model=body.model,
            version=body.version,
            name=body.name,
            policy=body.policy,
            selection=body.selection,
            urgency=body.urgency,
        )
        return campaign_views.describe(session, campaign)


@router.get("", summary="Campaigns, newest first")
def list_campaigns(
    runtime: RuntimeDep, me: CurrentPrincipal, state: str | None = None
) -> list[dict[str, Any]]:
    """The organization's campaigns (an empty list for hospital staff); 422 for an unknown
    state."""
    with unit_of_work(runtime) as session:
        return campaign_views.list_campaigns(session, me, state=state)


@router.get(ONE, summary="One campaign with its progress per phase")
def get_campaign(key: str, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    """One campaign with its counts per phase and status; 404 if unknown or for hospital
    staff."""
    with unit_of_work(runtime) as session:
        return campaign_views.get_campaign(session, me, key)


@router.get(ONE + "/devices", summary="The devices of a campaign and where each stands")
def list_devices(
    key: str,
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    status_: Annotated[str | None, Query(alias="status")] = None,
    phase: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """One page of the campaign's devices (``status``, ``phase``, ``limit`` up to 1000,
    ``offset``) with the release each installs now and its install window."""
    where = campaign_views.DeviceFilter(status_, phase, limit, offset)
    with unit_of_work(runtime) as session:
        return campaign_views.list_devices(session, me, key, where)


@router.post(ONE + "/schedule", summary="Schedule a draft campaign")
def schedule(
    key: str, body: ScheduleIn, runtime: RuntimeDep, me: CurrentPrincipal
) -> dict[str, Any]:
    """Schedule a draft to start at ``at`` (aware) or at the scheduler's next cycle; 409
    unless it is a draft."""
    with unit_of_work(runtime) as session:
        campaign = service.schedule(session, runtime.audit, me, key, body.at)
        return campaign_views.describe(session, campaign)


@router.post(ONE + "/start", summary="Start a campaign now")
def start(key: str, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    """Start a draft or scheduled campaign now; 409 otherwise or when its release was
    withdrawn."""
    with unit_of_work(runtime) as session:
        campaign = service.start(session, runtime.audit, me, key)
        return campaign_views.describe(session, campaign)


@router.post(ONE + "/pause", summary="Pause a running campaign")
def pause(key: str, body: PauseIn, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    """Pause a running campaign and withdraw the instructions of devices without an outcome
    (cleared in the director before the response)."""
    with unit_of_work(runtime) as session:
        service.pause(session, runtime.audit, me, key, body.reason)
    sync_director(runtime)
    with unit_of_work(runtime) as session:
        return campaign_views.get_campaign(session, me, key)


@router.post(ONE + "/resume", summary="Resume a paused campaign")
def resume(key: str, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    """Resume a paused campaign; its failures so far are acknowledged."""
    with unit_of_work(runtime) as session:
        campaign = service.resume(session, runtime.audit, me, key)
        return campaign_views.describe(session, campaign)


@router.post(ONE + "/abort", summary="Abort a campaign")
def abort(key: str, body: AbortIn, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    """Abort a campaign that has not finished; devices without an outcome are let go and
    their instructions cleared before the response."""
    with unit_of_work(runtime) as session:
        service.abort(session, runtime.audit, me, key, body.reason)
    sync_director(runtime)
    with unit_of_work(runtime) as session:
        return campaign_views.get_campaign(session, me, key)


@router.post(
    ONE + "/rollback",
    status_code=status.HTTP_201_CREATED,
    summary="Create a rollback campaign for the devices that succeeded",
)
def create_rollback(
    key: str, body: RollbackIn, runtime: RuntimeDep, me: CurrentPrincipal
) -> dict[str, Any]:
    """A draft rollback campaign returning the devices that succeeded to the release they
    ran before (``version`` to choose it); 409 while the original runs."""
    with unit_of_work(runtime) as session:
        campaign = rollback.create_rollback(
            session,
            runtime.audit,
            me,
            key,
            name=body.name,
            version=body.version,
            policy=body.policy,
            urgency=body.urgency,
        )
        return campaign_views.describe(session, campaign)
