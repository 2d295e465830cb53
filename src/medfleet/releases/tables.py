"""Tables of release records: the record, its notes and artifacts, its change requests.

A ``Release`` is e-signable (``accounts.signatures.Signable``): its canonical content covers
everything a signature vouches for (model, version, numbers, build, hardware revisions, the
image and SBOM hashes, the hospital notes and the included change requests). The state and the
signed-target record written at release time are not part of it, so moving a release forward
never invalidates the signatures that moved it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medfleet.accounts.tables import User
from medfleet.changes.tables import ChangeRequest
from medfleet.db.base import Base, UTCDateTime
from medfleet.releases.model import ReleaseNotes, ReleaseState, release_id

RECORD_TYPE = "release"

release_change = Table(
    "release_change",
    Base.metadata,
    Column("release_pk", ForeignKey("release_record.id"), primary_key=True),
    Column("change_request_id", ForeignKey("change_request.id"), primary_key=True, index=True),
)
"""Which change requests a release includes (at least one is needed to verify it)."""


def _number(change: ChangeRequest) -> int:
    return change.number


class Release(Base):
    """One release of one device model, from draft to its signed target."""

    __tablename__ = "release_record"
    __table_args__ = (
        UniqueConstraint("org_id", "model", "version"),
        # The devices' link to the release they run is looked up by model and version.
        Index("ix_release_record_model_version", "model", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    version_number: Mapped[int] = mapped_column(BigInteger)
    min_from_version_number: Mapped[int | None] = mapped_column(BigInteger)
    build_id: Mapped[str] = mapped_column(String(200))
    hardware_revisions: Mapped[list[str]] = mapped_column(JSON)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_filename: Mapped[str | None] = mapped_column(String(200))
    artifact_length: Mapped[int | None] = mapped_column(BigInteger)
    sbom_sha256: Mapped[str | None] = mapped_column(String(64))
    sbom_format: Mapped[str | None] = mapped_column(String(32))
    notes_what_changed: Mapped[str] = mapped_column(Text)
    notes_risk_summary: Mapped[str] = mapped_column(Text)
    notes_downtime_minutes: Mapped[int | None] = mapped_column(Integer)
    notes_compatibility: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    target_path: Mapped[str | None] = mapped_column(String(300))
    target_sha256: Mapped[str | None] = mapped_column(String(64))
    target_length: Mapped[int | None] = mapped_column(BigInteger)
    target_deltas: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    author: Mapped[User] = relationship()
    change_requests: Mapped[list[ChangeRequest]] = relationship(
        secondary=release_change, order_by=ChangeRequest.number
    )

    @property
    def release_state(self) -> ReleaseState:
        """The state as the state machine's enum."""
        return ReleaseState(self.state)

    @property
    def notes(self) -> ReleaseNotes:
        """The release notes for hospitals."""
        return ReleaseNotes(
            self.notes_what_changed,
            self.notes_risk_summary,
            self.notes_downtime_minutes,
            self.notes_compatibility,
        )

    @property
    def release_id(self) -> str:
        """The id in image metadata and install records, e.g. ``IP-100-4.2.0``."""
        return release_id(self.model, self.version)

    @property
    def label(self) -> str:
        """E-signature label, such as ``release IP-100 4.2.0``."""
        return f"release {self.model} {self.version}"

    @property
    def record_type(self) -> str:
        """E-signature record type."""
        return RECORD_TYPE

    @property
    def record_id(self) -> str:
        """E-signature record id."""
        return str(self.id)

    def canonical_content(self) -> dict[str, Any]:
        """What a signature on this release vouches for (not its state or signed target)."""
        notes = self.notes
        return {
            "model": self.model,
            "version": self.version,
            "version_number": self.version_number,
            "min_from_version_number": self.min_from_version_number,
            "build_id": self.build_id,
            "hardware_revisions": list(self.hardware_revisions),
            "artifact": {
                "sha256": self.artifact_sha256,
                "filename": self.artifact_filename,
                "length": self.artifact_length,
            },
            "sbom": {"sha256": self.sbom_sha256, "format": self.sbom_format},
            "notes": {
                "what_changed": notes.what_changed,
                "risk_summary": notes.risk_summary,
                "downtime_minutes": notes.downtime_minutes,
                "compatibility": notes.compatibility,
            },
            "change_requests": [c.key for c in sorted(self.change_requests, key=_number)],
            "author": self.author.username,
        }
