"""Install attempts and their downtime, from the devices' signed status reports.

``record_install_attempt`` is called by report intake (``medfleet.fleet.report_intake``) in
its transaction, for every accepted report: a report with a terminal outcome (``committed``,
``rolled_back`` or ``failed``) and a target finishes one install attempt, which is stored as an
``InstallAttempt`` with the device's placement at that moment and audited as
``device.install_finished``. Deferrals, installs in progress, rejections (no target) and plain
status reports record nothing.

A device may state the same finished attempt twice (its agent crashed after queueing the
report and before remembering that it did); an attempt that took the device out of service is
identified by its target and instants, so such a repeat of the device's latest attempt is not
recorded again. Failed attempts carry no instants and are always recorded.

``attempts_in_scope`` is the read side the reports use: the attempts the caller may see (a
hospital user only its own hospital's), in a period ``[since, until)`` of the time the device
reported the attempt finished (the signed report's time).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Organization
from medfleet.agent.reports import StatusReport
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet.downtime_model import InvalidReportPeriodError, InvalidReportQueryError
from medfleet.fleet.downtime_tables import OUTCOMES, InstallAttempt
from medfleet.fleet.errors import PlaceNotFoundError
from medfleet.fleet.tables import Device

__all__ = [
    "InvalidReportPeriodError",
    "InvalidReportQueryError",
    "attempts_in_scope",
    "check_period",
    "downtime_seconds",
    "record_install_attempt",
    "scoped_hospital",
]


def downtime_seconds(left: datetime | None, returned: datetime | None) -> int | None:
    """Whole seconds out of service (rounded to the nearest), None unless both are known.

    A return before the departure (which a well-formed report cannot state) counts as 0.
    """
    if left is None or returned is None:
        return None
    return max(0, round((returned - left).total_seconds()))


def _repeats_latest(session: Session, device: Device, attempt: InstallAttempt) -> bool:
    if attempt.left_service_at is None:
        return False
    latest = session.scalar(
        select(InstallAttempt)
        .where(InstallAttempt.device_pk == device.id)
        .order_by(InstallAttempt.report_seq.desc())
        .limit(1)
    )
    return latest is not None and (
        latest.target_sha256,
        latest.outcome,
        latest.left_service_at,
        latest.returned_to_service_at,
    ) == (
        attempt.target_sha256,
        attempt.outcome,
        attempt.left_service_at,
        attempt.returned_to_service_at,
    )


def record_install_attempt(
    session: Session,
    audit: AuditLog,
    device: Device,
    report: StatusReport,
    *,
    from_version: str | None,
    from_version_number: int | None,
    received_at: datetime,
) -> InstallAttempt | None:
    """Store the install attempt ``report`` finishes, with its audit event; None if it
    finishes none (or only repeats the device's latest attempt, see the module docstring).

    Runs in the caller's transaction; the caller has verified the report and its sequence
    number. ``from_version*`` is what the device attested before this report.
    """
    content = report.content
    target = content.target
    if target is None or content.outcome not in OUTCOMES:
        return None
    attempt = InstallAttempt(
        device_pk=device.id,
        org_id=device.org_id,
        site_id=device.site_id,
        department_id=device.department_id,
        model=device.model,
        hardware_revision=device.hardware_revision,
        target_path=target.path,
        target_sha256=target.sha256,
        target_version=target.version,
        target_version_number=target.version_number,
        from_version=from_version,
        from_version_number=from_version_number,
        outcome=content.outcome,
        detail=content.detail,
        left_service_at=content.left_service_at,
        returned_to_service_at=content.returned_to_service_at,
        downtime_seconds=downtime_seconds(content.left_service_at, content.returned_to_service_at),
        report_seq=report.seq,
        reported_at=report.time,
        received_at=received_at,
    )
    if _repeats_latest(session, device, attempt):
        return None
    session.add(attempt)
    session.flush()
    audit.record(
        session,
        NewEvent(
            f"device:{device.device_id}",
            device.org_id,
            "device.install_finished",
            "device",
            device.device_id,
            {
                "attempt_id": attempt.id,
                "report_seq": report.seq,
                "outcome": attempt.outcome,
                "detail": attempt.detail,
                "target": attempt.target_path,
                "from_version": from_version,
                "to_version": attempt.target_version,
                "left_service_at": _iso(attempt.left_service_at),
                "returned_to_service_at": _iso(attempt.returned_to_service_at),
                "downtime_seconds": attempt.downtime_seconds,
            },
        ),
    )
    return attempt


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def check_period(since: datetime | None, until: datetime | None) -> None:
    """Both bounds (if given) are timezone-aware and ``since < until``.

    Raises:
        InvalidReportPeriodError: a naive bound, or an empty period.
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise InvalidReportPeriodError(f"{name} needs a time zone (UTC is assumed nowhere)")
    if since is not None and until is not None and since >= until:
        raise InvalidReportPeriodError(
            f"the period is empty: since {since.isoformat()} is not before until "
            f"{until.isoformat()}"
        )


def scoped_hospital(
    session: Session, principal: Principal, hospital_id: int | None
) -> Organization | None:
    """The hospital a report is narrowed to: ``hospital_id`` if the caller may see it, else
    a hospital user's own hospital, else None (the manufacturer's view of every hospital).

    Raises:
        PlaceNotFoundError: no such hospital, or one the caller may not see.
    """
    if hospital_id is None:
        if principal.org_kind is OrgKind.HOSPITAL:
            return session.get(Organization, principal.org_id)
        return None
    hospital = session.get(Organization, hospital_id)
    if (
        hospital is None
        or hospital.kind != OrgKind.HOSPITAL
        or not principal.can_see_org(hospital.id)
    ):
        raise PlaceNotFoundError(f"no hospital {hospital_id}")
    return hospital


def _in_period(
    statement: Select[InstallAttempt], since: datetime | None, until: datetime | None
) -> Select[InstallAttempt]:
    if since is not None:
        statement = statement.where(InstallAttempt.reported_at >= since)
    if until is not None:
        statement = statement.where(InstallAttempt.reported_at < until)
    return statement


def attempts_in_scope(
    session: Session,
    principal: Principal,
    *,
    hospital_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[InstallAttempt]:
    """The attempts the caller may see, of one hospital if given, reported in
    ``[since, until)``, oldest report first.

    Raises:
        PlaceNotFoundError: ``hospital_id`` is not a hospital the caller may see.
        InvalidReportPeriodError: see ``check_period``.
    """
    check_period(since, until)
    hospital = scoped_hospital(session, principal, hospital_id)
    statement = select(InstallAttempt).order_by(InstallAttempt.reported_at, InstallAttempt.id)
    if hospital is not None:
        statement = statement.where(InstallAttempt.org_id == hospital.id)
    return list(session.scalars(_in_period(statement, since, until)))
