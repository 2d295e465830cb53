"""HTTP endpoints of maintenance windows, blackouts and upcoming openings.

Windows and blackouts belong to a hospital: its admin, biomed and IT users change them, its
users and the manufacturer's admins, fleet operators and auditors read them. Another
hospital's site, window or blackout answers 404. Local times are in the site's IANA zone:
``start_local`` of a window, the days of a blackout; openings come in UTC and local time.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.rollouts import window_service as service
from medfleet.rollouts.window_render import (
    blackout_document,
    opening_document,
    window_document,
)
from medfleet.rollouts.windows import parse_start

router = APIRouter(prefix=API_PREFIX, tags=["windows"])

MAX_MINUTES = 10**6  # beyond this a duration is refused by the rules anyway (at most 24h)


class WindowIn(BaseModel):
    """A recurring window: RFC 5545 local first start + RRULE + duration, in the site's zone."""

    site_id: int
    department_id: int | None = None
    name: str = Field(max_length=200)
    start_local: str = Field(
        max_length=40,
        description="first start, local wall time in the site's zone: 2026-03-07T02:00",
    )
    rrule: str = Field(max_length=500, description="RFC 5545 RRULE value: FREQ=WEEKLY;BYDAY=SA")
    duration_minutes: int = Field(ge=-MAX_MINUTES, le=MAX_MINUTES)


class WindowOut(BaseModel):
    """A stored window."""

    id: int
    org_id: int
    site_id: int
    department_id: int | None
    name: str
    timezone: str
    start_local: str
    rrule: str
    duration_minutes: int
    created_by: str
    created_at: str


class BlackoutIn(BaseModel):
    """Local days (inclusive) without windows: of one site, or of a whole hospital."""

    site_id: int | None = None
    org_id: int | None = Field(
        default=None, description="for a hospital-wide blackout; defaults to the caller's"
    )
    first_day: date
    last_day: date
    reason: str = Field(max_length=500)


class BlackoutOut(BaseModel):
    """A stored blackout."""

    id: int
    org_id: int
    site_id: int | None
    scope: str
    first_day: str
    last_day: str
    reason: str
    created_by: str
    created_at: str


class OpeningOut(BaseModel):
    """One opening: UTC, local (with zone abbreviation), its window and any DST note."""

    window_id: int | None
    window: str | None
    start: str
    end: str
    timezone: str
    local_start: str
    local_end: str
    zone_start: str | None
    zone_end: str | None
    duration_minutes: int
    adjusted: str | None
    text: str


class UpcomingOut(BaseModel):
    """The next openings of a site or department."""

    site_id: int
    department_id: int | None
    timezone: str
    openings: list[OpeningOut]


def _window(document: dict[str, Any]) -> WindowOut:
    return WindowOut.model_validate(document)


@router.get("/windows", summary="List maintenance windows")
def list_windows(
    runtime: RuntimeDep, principal: CurrentPrincipal, site_id: int | None = None
) -> list[WindowOut]:
    """Windows the caller may read, of one site or all."""
    with unit_of_work(runtime) as session:
        found = service.list_windows(session, principal, site_id=site_id)
        return [_window(window_document(window)) for window in found]


@router.post("/windows", status_code=status.HTTP_201_CREATED, summary="Add a maintenance window")
def add_window(body: WindowIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> WindowOut:
    """The hospital's admin, biomed or IT users add a window to one of their sites."""
    with unit_of_work(runtime) as session:
        window = service.add_window(
            session,
            runtime.audit,
            principal,
            site_id=body.site_id,
            department_id=body.department_id,
            name=body.name,
            start_local=parse_start(body.start_local),
            rrule=body.rrule,
            duration=timedelta(minutes=body.duration_minutes),
        )
        return _window(window_document(window))


@router.get("/windows/{window_id}", summary="One maintenance window")
def get_window(window_id: int, runtime: RuntimeDep, principal: CurrentPrincipal) -> WindowOut:
    """A window the caller may read (404 otherwise)."""
    with unit_of_work(runtime) as session:
        return _window(window_document(service.get_window(session, principal, window_id)))


@router.delete(
    "/windows/{window_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a maintenance window",
)
def remove_window(window_id: int, runtime: RuntimeDep, principal: CurrentPrincipal) -> Response:
    """Delete a window; the audit trail keeps what it was."""
    with unit_of_work(runtime) as session:
        service.remove_window(session, runtime.audit, principal, window_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/blackouts", summary="List blackout periods")
def list_blackouts(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    site_id: int | None = None,
    org_id: int | None = None,
) -> list[BlackoutOut]:
    """Blackouts the caller may read: applying to one site, of one hospital, or all."""
    with unit_of_work(runtime) as session:
        found = service.list_blackouts(session, principal, site_id=site_id, org_id=org_id)
        return [BlackoutOut.model_validate(blackout_document(b)) for b in found]


@router.post("/blackouts", status_code=status.HTTP_201_CREATED, summary="Add a blackout period")
def add_blackout(body: BlackoutIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> BlackoutOut:
    """A holiday freeze for a site (``site_id``) or every site of the hospital."""
    with unit_of_work(runtime) as session:
        blackout = service.add_blackout(
            session,
            runtime.audit,
            principal,
            first_day=body.first_day,
            last_day=body.last_day,
            reason=body.reason,
            site_id=body.site_id,
            org_id=body.org_id,
        )
        return BlackoutOut.model_validate(blackout_document(blackout))


@router.delete(
    "/blackouts/{blackout_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a blackout period",
)
def remove_blackout(blackout_id: int, runtime: RuntimeDep, principal: CurrentPrincipal) -> Response:
    """Delete a blackout; the audit trail keeps what it was."""
    with unit_of_work(runtime) as session:
        service.remove_blackout(session, runtime.audit, principal, blackout_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sites/{site_id}/windows/upcoming", summary="Upcoming maintenance windows")
def upcoming(
    site_id: int,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    department_id: int | None = None,
    count: Annotated[int, Query(ge=-1000, le=1000)] = 5,
) -> UpcomingOut:
    """The next openings from now (the one open now first), blackouts left out, in UTC and
    the site's local time."""
    with unit_of_work(runtime) as session:
        found = service.upcoming_detail(
            session,
            principal,
            site_id=site_id,
            department_id=department_id,
            count=count,
            after=runtime.clock.now(),
        )
        return UpcomingOut(
            site_id=found.site.id,
            department_id=found.department.id if found.department else None,
            timezone=found.site.timezone,
            openings=[
                OpeningOut.model_validate(opening_document(o, found.windows[o.rule]))
                for o in found.openings
            ],
        )
