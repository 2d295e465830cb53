"""The CMMS export: one work order per install attempt, as CSV a maintenance system imports.

Columns (``CMMS_COLUMNS``, in this order, header first): ``work_order_id`` (``MF-<attempt
id>``, stable across exports, so a CMMS can update instead of duplicating), ``hospital``,
``site``, ``department`` (where the device stood at the time), ``device_id``,
``device_serial``, ``udi_di``, ``model``, ``hardware_revision``, ``from_version``,
``to_version``, ``outcome`` (committed, rolled_back, failed), ``started_utc`` (left clinical
service) and ``completed_utc`` (back in service), ISO 8601 UTC with ``Z`` (empty for an
attempt that never took the device out of service), ``downtime_minutes`` (2 decimals),
``site_timezone`` (IANA, for the CMMS to show local times), ``detail`` (the device's words).

The file is RFC 4180 (comma-separated, CRLF line ends, fields with commas, quotes or line
breaks quoted, quotes doubled: Python's ``csv`` module). Every cell a spreadsheet could take
for a formula (one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
prefixed with a single quote, so opening the export never runs anything a device or a user
wrote.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.accounts.tables import Department, Organization, Site
from medfleet.fleet.downtime import attempts_in_scope
from medfleet.fleet.downtime_tables import InstallAttempt
from medfleet.fleet.tables import Device

CMMS_COLUMNS = (
    "work_order_id",
    "hospital",
    "site",
    "department",
    "device_id",
    "device_serial",
    "udi_di",
    "model",
    "hardware_revision",
    "from_version",
    "to_version",
    "outcome",
    "started_utc",
    "completed_utc",
    "downtime_minutes",
    "site_timezone",
    "detail",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def safe_cell(value: str) -> str:
    """``value``, prefixed with ``'`` when a spreadsheet would read it as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _utc(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def work_order_id(attempt: InstallAttempt) -> str:
    """The stable work order id of an attempt."""
    return f"MF-{attempt.id}"


def cmms_csv(
    session: Session,
    principal: Principal,
    *,
    hospital_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """The CMMS export of the attempts the caller may see (see the module docstring),
    reported in ``[since, until)``, oldest first.

    Raises:
        PlaceNotFoundError: ``hospital_id`` is not a hospital the caller may see.
        InvalidReportPeriodError: a naive bound, or ``since`` not before ``until``.
    """
    attempts = attempts_in_scope(
        session, principal, hospital_id=hospital_id, since=since, until=until
    )
    devices = {
        d.id: d
        for d in session.scalars(
            select(Device).where(Device.id.in_({a.device_pk for a in attempts}))
        )
    }
    hospitals = {
        o.id: o.name
        for o in session.scalars(
            select(Organization).where(Organization.id.in_({a.org_id for a in attempts}))
        )
    }
    sites = {
        s.id: s
        for s in session.scalars(select(Site).where(Site.id.in_({a.site_id for a in attempts})))
    }
    departments = {
        d.id: d.name
        for d in session.scalars(
            select(Department).where(Department.id.in_({a.department_id for a in attempts}))
        )
    }
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CMMS_COLUMNS)
    for attempt in attempts:
        device = devices[attempt.device_pk]
        site = None if attempt.site_id is None else sites.get(attempt.site_id)
        department = (
            None if attempt.department_id is None else departments.get(attempt.department_id)
        )
        seconds = attempt.downtime_seconds
        cells = (
            work_order_id(attempt),
            hospitals[attempt.org_id],
            "" if site is None else site.name,
            department or "",
            device.device_id,
            device.serial,
            device.udi_di or "",
            attempt.model,
            attempt.hardware_revision,
            attempt.from_version or "",
            attempt.target_version,
            attempt.outcome,
            _utc(attempt.left_service_at),
            _utc(attempt.returned_to_service_at),
            "" if seconds is None else f"{seconds / 60:.2f}",
            "" if site is None else site.timezone,
            attempt.detail or "",
        )
        writer.writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()
