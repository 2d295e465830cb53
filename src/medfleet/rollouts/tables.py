"""Campaign tables: campaigns, the devices each one takes, and which device is instructed now.

``Campaign`` is numbered per manufacturer (``CMP-1``, ``CMP-2``, ...) and keeps its target
release, selection and policy exactly as parsed (JSON, the pure types' ``as_dict``), its state
(``medfleet.rollouts.model.CampaignState``), the latest started phase and, per phase, the
failures people acknowledged when they resumed it.

``CampaignDevice`` is one device of one campaign: its phase (0 canary = the sites' test
devices, 1..n production), its status (``medfleet.rollouts.campaign_model.DeviceStatus``), the
release it installs now (the target or an intermediate hop), the version it ran when the
campaign planned it and when it got its current instruction, its install window and the install
attempt that finished it.

``ActiveAssignment`` has at most one row per device (its primary key is the device): a device
has a row exactly while some campaign's director instruction for it exists or is about to be
written or cleared. Inserting the row is how a campaign takes a device, so two campaigns, or two
workers, can never instruct one device at the same time: the database refuses the second row.
``instructed_at`` is null until the director holds the instruction, ``clear_pending`` is set
when the instruction must be withdrawn (the row is deleted once the director cleared it, or
taken over by the next campaign that instructs the device, whose instruction replaces it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from medfleet.db.base import Base, UTCDateTime


class Campaign(Base):
    """One campaign: a release, a target selection and a policy, moving through its states."""

    __tablename__ = "campaign"
    __table_args__ = (UniqueConstraint("org_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    release_pk: Mapped[int] = mapped_column(ForeignKey("release_record.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan_summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    current_phase: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged: Mapped[list[int]] = mapped_column(JSON, default=list)
    notified: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_reason: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    abort_reason: Mapped[str | None] = mapped_column(Text)
    rollback_of: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))

    @property
    def key(self) -> str:
        """The campaign's key, e.g. ``CMP-3``."""
        return f"CMP-{self.number}"


class CampaignDevice(Base):
    """One device of one campaign (see the module docstring)."""

    __tablename__ = "campaign_device"
    __table_args__ = (
        UniqueConstraint("campaign_id", "device_pk"),
        Index("ix_campaign_device_campaign_id_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    device_pk: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    phase: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))
    step_release_pk: Mapped[int | None] = mapped_column(ForeignKey("release_record.id"))
    start_version_number: Mapped[int | None] = mapped_column(BigInteger)
    from_version_number: Mapped[int | None] = mapped_column(BigInteger)
    hops: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    install_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    install_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("install_attempt.id"))
    detail: Mapped[str | None] = mapped_column(Text)


class ActiveAssignment(Base):
    """The one campaign instructing a device now (see the module docstring)."""

    __tablename__ = "active_assignment"

    device_pk: Mapped[int] = mapped_column(ForeignKey("device.id"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    campaign_device_id: Mapped[int] = mapped_column(ForeignKey("campaign_device.id"))
    release_pk: Mapped[int] = mapped_column(ForeignKey("release_record.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    instructed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clear_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    error: Mapped[str | None] = mapped_column(Text)
