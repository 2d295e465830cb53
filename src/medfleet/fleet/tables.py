"""Device registry tables: the model catalogue, devices, how they enrolled, what they reported.

The manufacturer's catalogue lists its device models (``DeviceModel``: the name releases and
devices use, its GS1 UDI-DI, what its images are) and each model's hardware revisions.
A device belongs to one hospital, optionally to one of its sites and a department of that
site. ``device_id`` is the public identifier used in URLs and in the director's per-device
repository (``medfleet.agent.contract``); the primary key stays internal.
An enrollment token is stored only as its SHA-256 and works once: enrollment binds the
device's Ed25519 public key and clears the token. ``last_report_seq`` is the highest sequence
number accepted from the device; every accepted report is kept verbatim with its signature,
and every change of the reported version is kept in ``DeviceVersion``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medfleet.accounts.tables import Department, Site
from medfleet.db.base import Base, UTCDateTime


class DeviceModel(Base):
    """A device model of the manufacturer's catalogue (e.g. ``IP-100``).

    ``image_kind`` says what the model's release images are (``software`` or ``firmware``).
    Devices reporting a version number below ``supported_from_version_number`` run a version
    the manufacturer no longer supports.
    """

    __tablename__ = "device_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    image_kind: Mapped[str] = mapped_column(String(16))
    supported_from_version_number: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    revisions: Mapped[list[HardwareRevision]] = relationship(
        back_populates="model", order_by="HardwareRevision.name", lazy="selectin"
    )

    @property
    def revision_names(self) -> list[str]:
        """The names of the model's hardware revisions, sorted."""
        return [revision.name for revision in self.revisions]


class HardwareRevision(Base):
    """One hardware revision of a device model (``A``, ``B``, ...)."""

    __tablename__ = "hardware_revision"
    __table_args__ = (UniqueConstraint("model_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("device_model.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    model: Mapped[DeviceModel] = relationship(back_populates="revisions")


class Device(Base):
    """One device in the field, where it stands, what it carries on its label, what it runs.

    ``in_clinical_use`` is the last state the device reported (None: it never reported one).
    The ``udi_*`` fields come from the device's GS1 UDI (``medfleet.fleet.udi``).
    ``installed_release_pk`` is the release record of ``(model, installed_version)``, or None
    when medfleet has none; the database keeps it (migration 0015).
    """

    __tablename__ = "device"
    __table_args__ = (
        UniqueConstraint("model", "serial"),
        # Exposure: which devices run given releases (medfleet.vulns.exposure_devices).
        # INCLUDE lets PostgreSQL count per release, hospital and site from the index alone.
        Index(
            "ix_device_installed_release_pk",
            "installed_release_pk",
            postgresql_include=["org_id", "site_id", "is_test_device"],
        ),
    )

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
    # Set by the database alone (triggers of migration 0015), never by medfleet's code.
    installed_release_pk: Mapped[int | None] = mapped_column(
        ForeignKey("release_record.id", ondelete="SET NULL"),
        server_default=FetchedValue(),
        server_onupdate=FetchedValue(),
    )
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    is_test_device: Mapped[bool] = mapped_column(default=False, server_default=false())
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    udi_di: Mapped[str | None] = mapped_column(String(14))
    udi_hri: Mapped[str | None] = mapped_column(String(300))
    udi_lot: Mapped[str | None] = mapped_column(String(20))
    udi_manufactured_on: Mapped[date | None] = mapped_column(Date)
    udi_expires_on: Mapped[date | None] = mapped_column(Date)
    in_clinical_use: Mapped[bool | None] = mapped_column()
    clinical_use_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Loaded on access (a joined load would put the nullable side of an outer join under the
    # ``FOR UPDATE`` that report intake takes, which PostgreSQL refuses).
    site: Mapped[Site | None] = relationship()
    department: Mapped[Department | None] = relationship()

    @property
    def site_name(self) -> str | None:
        """The name of the device's site, if it has one."""
        return None if self.site is None else self.site.name

    @property
    def department_name(self) -> str | None:
        """The name of the device's department, if it has one."""
        return None if self.department is None else self.department.name


class DeviceVersion(Base):
    """One change of the version a device reported running (its installed-version history)."""

    __tablename__ = "device_version"
    __table_args__ = (UniqueConstraint("device_pk", "report_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    version: Mapped[str | None] = mapped_column(String(64))
    version_number: Mapped[int | None] = mapped_column(BigInteger)
    report_seq: Mapped[int] = mapped_column(BigInteger)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
