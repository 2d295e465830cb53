"""Audit trail tables: the events, the signed head and the signed checkpoint history.

``audit_head`` has exactly one row (created by the first migration). Writers lock it
(``SELECT … FOR UPDATE``) before appending, which serializes appends across processes on
PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` does the same. The unique ``seq`` primary key is the
last line of defence: a writer that somehow computed the same position fails instead of forking
the chain. No foreign keys: the trail must outlive and not constrain what it describes.

An event is stored exactly as it is hashed: the time as its canonical text
(``2026-01-15T09:00:00.000000+00:00``, which also sorts in time order), the payload as canonical
JSON and the hashes in hex, so the verifier reads the hashed values without converting them.
On SQLite ``seq`` is an ``INTEGER PRIMARY KEY``, the table's own row id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from medfleet.audit.model import canonical_time
from medfleet.db.base import Base, UTCDateTime

HEAD_ROW_ID = 1
CANONICAL_TIME_LENGTH = len("2026-01-15T09:00:00.000000+00:00")
# BIGINT elsewhere; exactly "INTEGER" on SQLite, where that makes the key the row id.
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")


class AuditTime(TypeDecorator[datetime]):
    """A timezone-aware UTC time stored as its canonical text, the exact string that is hashed."""

    impl = String(CANONICAL_TIME_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: medfleet stores timezone-aware UTC only")
        return canonical_time(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        return None if value is None else datetime.fromisoformat(value)


class AuditEventRow(Base):
    """One event of the hash chain."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(AuditTime())
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
