"""Install attempts: what each finished install did to a device's clinical service.

One ``InstallAttempt`` row per finished install attempt a device reported in a signed status
report (``medfleet.fleet.report_intake``): its outcome, the versions before and after, where
the device stood at the time (hospital, site, department), and when the attempt took it out
of clinical service and back (the device's own clock, from the signed report). Campaigns count
successes and failures per phase from these rows; downtime and CMMS reports read them.

``downtime_seconds`` is ``returned_to_service_at - left_service_at`` rounded to the nearest
second; all three are null for an attempt that failed before it took the device out of
service. ``from_version*`` is what the device attested running before the report (null when
it had attested nothing yet). ``(device_pk, report_seq)`` is unique: one attempt per report.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medfleet.db.base import Base, UTCDateTime

OUTCOMES = ("committed", "rolled_back", "failed")


class InstallAttempt(Base):
    """One finished install attempt on one device (see the module docstring)."""

    __tablename__ = "install_attempt"
    __table_args__ = (UniqueConstraint("device_pk", "report_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    model: Mapped[str] = mapped_column(String(64))
    hardware_revision: Mapped[str] = mapped_column(String(64))
    target_path: Mapped[str] = mapped_column(Text)
    target_sha256: Mapped[str] = mapped_column(String(64))
    target_version: Mapped[str] = mapped_column(Text)
    target_version_number: Mapped[int] = mapped_column(BigInteger)
    from_version: Mapped[str | None] = mapped_column(String(64))
    from_version_number: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    left_service_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_to_service_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    downtime_seconds: Mapped[int | None] = mapped_column(Integer)
    report_seq: Mapped[int] = mapped_column(BigInteger)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
