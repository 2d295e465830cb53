"""HTTP endpoints of downtime and CMMS reports.

``GET /reports/downtime?group_by=site`` answers the rows of ``downtime_reports.downtime_report``
as JSON; ``GET /reports/cmms`` the CMMS work orders as ``text/csv`` (``fleet.cmms``). Both take
``hospital_id``, ``since`` and ``until`` (``YYYY-MM-DD`` UTC days, ``until`` inclusive of its
day, or ISO 8601 date-times with an offset). A hospital user only ever gets its own hospital's
rows; asking for another hospital is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.fleet.cmms import CSV_MEDIA_TYPE, cmms_csv
from medfleet.fleet.downtime_model import GroupBy, parse_bound
from medfleet.fleet.downtime_reports import downtime_report

router = APIRouter(prefix=API_PREFIX, tags=["reports"])

HospitalId = Annotated[int | None, Query(description="Only this hospital (default: all you see).")]
Since = Annotated[
    str | None, Query(max_length=40, description="From (YYYY-MM-DD or ISO 8601 with offset).")
]
Until = Annotated[
    str | None,
    Query(max_length=40, description="Until (YYYY-MM-DD: inclusive of that day; or ISO 8601)."),
]


class DowntimeRowOut(BaseModel):
    """One group of a downtime report (definitions in ``medfleet.fleet.downtime_model``)."""

    group_by: GroupBy
    key: str
    label: str
    hospital: str | None
    installs: int
    succeeded: int
    failed: int
    rolled_back: int
    success_rate: float | None
    downtime_minutes_total: float
    downtime_minutes_median: float | None
    downtime_minutes_p95: float | None
    unsupported_devices: int


def _period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    return (
        None if since is None else parse_bound(since),
        None if until is None else parse_bound(until, end=True),
    )


@router.get("/reports/downtime")
def downtime(
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    group_by: GroupBy,
    hospital_id: HospitalId = None,
    since: Since = None,
    until: Until = None,
) -> list[DowntimeRowOut]:
    """Installs, success rate, downtime minutes and unsupported devices per group."""
    start, end = _period(since, until)
    with unit_of_work(runtime) as session:
        rows = downtime_report(
            session, me, group_by=group_by, hospital_id=hospital_id, since=start, until=end
        )
    return [DowntimeRowOut(**row.to_dict()) for row in rows]


@router.get(
    "/reports/cmms",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "RFC 4180 CSV."}},
)
def cmms(
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    hospital_id: HospitalId = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    """One CMMS work order per install attempt, as CSV."""
    start, end = _period(since, until)
    with unit_of_work(runtime) as session:
        text = cmms_csv(session, me, hospital_id=hospital_id, since=start, until=end)
    return Response(
        text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="medfleet-cmms.csv"'},
    )
