"""The installed-version history of a device: one row each time its reported version changed.

Report intake calls ``record_reported_version`` for every accepted signed report; a row is
appended only when the reported version differs from the last one recorded, so the history
is the sequence of versions a device actually ran, with the report that first showed each.
A device that never reported counts as running "nothing known" (version None).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.fleet.enrollment import get_device
from medfleet.fleet.tables import Device, DeviceVersion


def latest_version(session: Session, device: Device) -> DeviceVersion | None:
    """The device's most recent history row, or None when it has none."""
    return session.scalar(
        select(DeviceVersion)
        .where(DeviceVersion.device_pk == device.id)
        .order_by(DeviceVersion.report_seq.desc(), DeviceVersion.id.desc())
        .limit(1)
    )


def record_reported_version(
    session: Session,
    device: Device,
    *,
    version: str | None,
    version_number: int | None,
    seq: int,
    reported_at: datetime,
    received_at: datetime,
) -> bool:
    """Append a history row when ``version`` differs from the device's latest row.

    Runs in the caller's transaction (the report intake's); the caller has already checked
    the report's signature and that ``seq`` is new. Returns True when a row was appended.
    """
    latest = latest_version(session, device)
    known = (None, None) if latest is None else (latest.version, latest.version_number)
    if (version, version_number) == known:
        return False
    session.add(
        DeviceVersion(
            device_pk=device.id,
            version=version,
            version_number=version_number,
            report_seq=seq,
            reported_at=reported_at,
            received_at=received_at,
        )
    )
    session.flush()
    return True


def version_history(session: Session, principal: Principal, device_id: str) -> list[DeviceVersion]:
    """The versions a device the caller may see has run, oldest first.

    Raises:
        DeviceNotFoundError: no such device, or it belongs to another hospital.
    """
    device = get_device(session, principal, device_id)
    return list(
        session.scalars(
            select(DeviceVersion)
            .where(DeviceVersion.device_pk == device.id)
            .order_by(DeviceVersion.report_seq, DeviceVersion.id)
        )
    )
