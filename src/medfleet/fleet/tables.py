"""Device registry tables: a device, how it enrolled, and the signed reports it sent.

A device belongs to one hospital. ``device_id`` is the public identifier used in URLs and in the
director's per-device repository (``medfleet.agent.contract``); the primary key stays internal.
An enrollment token is stored only as its SHA-256 and works once: enrollment binds the
device's Ed25519 public key and clears the token. ``last_report_seq`` is the highest sequence
number accepted from the device; every accepted report is kept verbatim with its signature.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medfleet.db.base import Base, UTCDateTime


class Device(Base):
    """One device in the field (later issues add UDI, site, department, tags)."""

    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("model", "serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    hardware_revision: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enrollment_token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrollment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(64))
    last_report_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    installed_version: Mapped[str | None] = mapped_column(String(64))
    installed_version_number: Mapped[int | None] = mapped_column(BigInteger)


class DeviceReport(Base):
    """A signed status report exactly as the device sent it, once per sequence number."""

    __tablename__ = "device_report"
    __table_args__ = (UniqueConstraint("device_pk", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InstallRecord(Base):
    """An install that a person recorded (e.g. a technician with an offline field bundle).

    A claim by an authenticated user, not an attestation: the device's signed report, when it
    next connects, is what sets ``Device.installed_version``.
    """

    __tablename__ = "device_install_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    release_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    version_number: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))
    bundle_sha256: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
