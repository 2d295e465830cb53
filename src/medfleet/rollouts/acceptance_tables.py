"""Tables of hospital acceptance: per-site decisions on releases, and auto-approval policies.

``SiteAcceptance`` holds a site's current decision on one release (one row per release and
site; every change of it is an audit event). ``AutoApprovalPolicy`` holds a hospital's standing
approvals per campaign urgency, for one site or (``site_id`` null) all of its sites.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medfleet.db.base import Base, UTCDateTime


class SiteAcceptance(Base):
    """A site's decision on a release, and when it confirmed production devices may follow."""

    __tablename__ = "site_acceptance"
    __table_args__ = (UniqueConstraint("release_pk", "site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("release_record.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    out_of_cycle_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    production_confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    production_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AutoApprovalPolicy(Base):
    """Approve releases of campaigns with ``urgency`` automatically, for a site or all sites."""

    __tablename__ = "auto_approval_policy"
    __table_args__ = (UniqueConstraint("org_id", "site_id", "urgency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    urgency: Mapped[str] = mapped_column(String(16))
    confirm_production: Mapped[bool] = mapped_column(Boolean, default=False)
    out_of_cycle: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
