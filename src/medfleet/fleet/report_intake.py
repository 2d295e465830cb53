"""Accepting the signed status reports devices send: what a device attests about itself.

A report is accepted only when it verifies with the key the device enrolled with
(``medfleet.agent.reports.verify_report``, the same code the agent signs with), names that very
device, and carries a sequence number after the last one accepted. The exact report accepted
last may arrive again (the device did not get the acknowledgement): it is acknowledged as a
duplicate and changes nothing. Anything else with an old sequence number is a replay and is
refused. Every accepted report is kept verbatim, updates the device's attested version (and
its version history, ``medfleet.fleet.history``), its last-seen time and the clinical-use state
it reported, and is recorded in the audit trail; a report that finishes an install attempt
also records the attempt and its downtime (``medfleet.fleet.downtime``) — all in one
transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.agent.errors import MalformedReportError, ReportError
from medfleet.agent.reports import verify_report
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet import history
from medfleet.fleet.downtime import record_install_attempt
from medfleet.fleet.errors import (
    DeviceNotFoundError,
    ReportNotTrustedError,
    ReportRejectedError,
    ReportReplayedError,
)
from medfleet.fleet.tables import Device, DeviceReport


@dataclass(frozen=True)
class Acknowledgement:
    """The server took the report (or already had exactly this one)."""

    device_id: str
    seq: int
    duplicate: bool


def accept_report(
    session: Session, audit: AuditLog, device_id: str, document: bytes
) -> Acknowledgement:
    """Verify and store one signed report from ``device_id``.

    Raises:
        DeviceNotFoundError: no such device, or it has not enrolled (no key to verify with).
        ReportRejectedError: the document is malformed.
        ReportNotTrustedError: unsigned, signed by another key, or about another device.
        ReportReplayedError: a sequence number at or below the last accepted one, other than
            a resend of exactly the last accepted report.
    """
    device = session.scalar(select(Device).where(Device.device_id == device_id).with_for_update())
    if device is None or device.public_key is None:
        raise DeviceNotFoundError(f"no enrolled device {device_id!r}")
    try:
        verified = verify_report(device.public_key, document)
    except MalformedReportError as exc:
        raise ReportRejectedError(str(exc)) from exc
    except ReportError as exc:
        raise ReportNotTrustedError(str(exc)) from exc
    report = verified.report
    if report.device_id != device.device_id:
        raise ReportNotTrustedError(
            f"report speaks for device {report.device_id!r}, not {device.device_id!r}"
        )
    digest = hashlib.sha256(document).hexdigest()
    if report.seq <= device.last_report_seq:
        last = session.scalar(
            select(DeviceReport.body_sha256).where(
                DeviceReport.device_pk == device.id, DeviceReport.seq == device.last_report_seq
            )
        )
        if report.seq == device.last_report_seq and last == digest:
            return Acknowledgement(device.device_id, report.seq, duplicate=True)
        raise ReportReplayedError(
            f"report {report.seq} is not after the last accepted report {device.last_report_seq}"
        )
    now = audit.clock.now()
    session.add(
        DeviceReport(
            device_pk=device.id, seq=report.seq, body_sha256=digest, body=document, received_at=now
        )
    )
    content = report.content
    before = (device.installed_version, device.installed_version_number)
    device.last_report_seq = report.seq
    device.last_seen_at = now
    device.installed_version = content.active_version
    device.installed_version_number = content.active_version_number
    if content.in_clinical_use is not None:
        device.in_clinical_use = content.in_clinical_use
        device.clinical_use_reported_at = report.time
    history.record_reported_version(
        session,
        device,
        version=content.active_version,
        version_number=content.active_version_number,
        seq=report.seq,
        reported_at=report.time,
        received_at=now,
    )
    record_install_attempt(
        session,
        audit,
        device,
        report,
        from_version=before[0],
        from_version_number=before[1],
        received_at=now,
    )
    audit.record(
        session,
        NewEvent(
            f"device:{device.device_id}",
            device.org_id,
            "device.reported",
            "device",
            device.device_id,
            {
                "seq": report.seq,
                "reported_at": report.time.isoformat(),
                "active_version": content.active_version,
                "install_phase": content.install_phase,
                "outcome": content.outcome,
                "in_clinical_use": content.in_clinical_use,
                "report_sha256": digest,
            },
        ),
    )
    return Acknowledgement(device.device_id, report.seq, duplicate=False)
