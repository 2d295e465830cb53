"""Audit trail tables: the events, the signed head and the signed checkpoint history.

``audit_head`` has exactly one row (created by the first migration). Writers lock it
(``SELECT … FOR UPDATE``) before appending, which serializes appends across processes on
PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` does the same. The unique ``seq`` primary key is the
last line of defence: a writer that somehow computed the same position fails instead of forking
the chain. No foreign keys: the trail must outlive and not constrain what it describes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medfleet.db.base import Base, UTCDateTime

HEAD_ROW_ID = 1


class AuditEventRow(Base):
    """One event of the hash chain."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index(None, "org_id", "seq"),
        Index(None, "object_type", "object_id"),
    )


class AuditHeadRow(Base):
    """The chain head and its signature; the row writers lock."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    key_id: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)


class AuditCheckpointRow(Base):
    """A signed statement of the chain hash at ``seq``, kept every N events."""

    __tablename__ = "audit_checkpoint"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
