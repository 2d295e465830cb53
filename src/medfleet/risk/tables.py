"""Tables of the risk file: the matrix per organization, item versions, key counters, deltas.

Item content is stored as JSON exactly as ``risk.items`` renders it, so ``item_from_content``
reads it back. A risk-file item is never updated in place: each change is a new ``risk_item`` row
(version n+1); a removal is a ``retired`` version that keeps the last content. Delta entries
belong to one change request, one per item key (a unique constraint), and are merged into
``risk_item`` when the change request is released.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medfleet.db.base import Base, UTCDateTime

KEY_LENGTH = 16
ACTOR_LENGTH = 200


class RiskMatrixRow(Base):
    """An organization's risk matrix (``RiskMatrix.as_dict()``); none means the default."""

    __tablename__ = "risk_matrix"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), unique=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RiskKeySequence(Base):
    """The last number handed out per organization and key prefix (H, HS, RC); never reused."""

    __tablename__ = "risk_key_sequence"

    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class RiskItemRow(Base):
    """One version of a hazard, situation or control; the highest version is the current one."""

    __tablename__ = "risk_item"
    __table_args__ = (UniqueConstraint("org_id", "key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    retired: Mapped[bool] = mapped_column(Boolean)
    change_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_request.id"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RiskDeltaEntryRow(Base):
    """A proposed change to one item within a change request (``before`` from the file)."""

    __tablename__ = "risk_delta_entry"
    __table_args__ = (UniqueConstraint("change_request_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_request.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    action: Mapped[str] = mapped_column(String(16))
    base_version: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    author: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
