"""Maintenance-window tables: recurring windows per site or department, and blackout periods.

Times are stored as the hospital gave them, in the site's zone, because a recurrence is defined
in local wall time: ``start_local`` is a naive ISO local date-time ``YYYY-MM-DDTHH:MM`` (the
RFC 5545 DTSTART in the site's zone, ``Site.timezone``), and a blackout's days are local dates.
Both are turned into UTC only when openings are computed (``medfleet.rollouts.windows``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medfleet.accounts.tables import Department, Site, User
from medfleet.db.base import Base, UTCDateTime

START_FORMAT = "%Y-%m-%dT%H:%M"
"""How ``MaintenanceWindow.start_local`` is written."""


class MaintenanceWindow(Base):
    """A recurring window of a site (``department_id`` null) or of one of its departments.

    ``org_id`` is the site's hospital, kept for scoping queries. ``rrule`` is the validated RFC
    5545 RRULE value (no DTSTART); ``duration_minutes`` is elapsed time.
    """

    __tablename__ = "maintenance_window"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    start_local: Mapped[str] = mapped_column(String(16))
    rrule: Mapped[str] = mapped_column(String(500))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    site: Mapped[Site] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship(lazy="joined")
    creator: Mapped[User] = relationship(lazy="joined")


class BlackoutPeriod(Base):
    """Local days (inclusive) on which no window opens: of one site, or (``site_id`` null) of
    every site of the hospital, each in its own zone."""

    __tablename__ = "blackout_period"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    site: Mapped[Site | None] = relationship(lazy="joined")
    creator: Mapped[User] = relationship(lazy="joined")
