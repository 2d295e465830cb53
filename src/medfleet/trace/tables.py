"""Tables of the traceability domain: requirements and their versions, tests, links, runs.

Requirement versions are append-only: modifying or retiring a requirement writes a new version
(with the change request it was written under, if any) and moves ``current_version``; nothing
is ever overwritten. A verification run is one JUnit file bound to a build, unique per
organization, build and file hash, with one result per test.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medfleet.accounts.tables import User
from medfleet.changes.tables import ChangeRequest
from medfleet.db.base import Base, UTCDateTime
from medfleet.trace.model import (
    MAX_BUILD,
    MAX_ITEM,
    MAX_KEY,
    MAX_TEST_KEY,
    MAX_TITLE,
    ChangeAction,
    Outcome,
    RequirementKind,
    TestLevel,
)


class Requirement(Base):
    """A requirement with the manufacturer's id (``SRS-101``) and its current version."""

    __tablename__ = "requirement"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY))
    current_version: Mapped[int] = mapped_column(Integer)
    retired: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequirementVersion(Base):
    """One version of a requirement: what it said, and who wrote it under which change."""

    __tablename__ = "requirement_version"
    __table_args__ = (UniqueConstraint("requirement_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirement.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    text: Mapped[str] = mapped_column(Text)
    software_item: Mapped[str] = mapped_column(String(MAX_ITEM))
    change_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_request.id"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship()
    change_request: Mapped[ChangeRequest | None] = relationship()

    @property
    def change_action(self) -> ChangeAction:
        """The action as an enum."""
        return ChangeAction(self.action)

    @property
    def requirement_kind(self) -> RequirementKind:
        """The kind as an enum."""
        return RequirementKind(self.kind)


class TraceTest(Base):
    """A test case by id (``classname::name`` by default) with its level, if recorded."""

    __tablename__ = "trace_test"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    key: Mapped[str] = mapped_column(String(MAX_TEST_KEY))
    level: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def test_level(self) -> TestLevel | None:
        """The level as an enum (None: not recorded)."""
        return TestLevel(self.level) if self.level else None


class RequirementTestLink(Base):
    """A test verifies a requirement; made by hand (``manual``) or by a JUnit run (``junit``)."""

    __tablename__ = "requirement_test_link"
    __table_args__ = (UniqueConstraint("requirement_id", "test_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirement.id"))
    test_id: Mapped[int] = mapped_column(ForeignKey("trace_test.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ControlRequirementLink(Base):
    """A risk control (``RC-3``, owned by ``risk/``) is implemented by a requirement."""

    __tablename__ = "control_requirement_link"
    __table_args__ = (UniqueConstraint("org_id", "control_key", "requirement_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    control_key: Mapped[str] = mapped_column(String(32))
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirement.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VerificationRun(Base):
    """One imported JUnit file bound to a build (and optionally a change request)."""

    __tablename__ = "verification_run"
    __table_args__ = (UniqueConstraint("org_id", "build_id", "source_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    build_id: Mapped[str] = mapped_column(String(MAX_BUILD))
    source_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    change_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_request.id"), index=True
    )
    imported_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    total: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)

    imported_by: Mapped[User] = relationship()
    change_request: Mapped[ChangeRequest | None] = relationship()


class RunResult(Base):
    """The outcome of one test in one run, with the failure or skip message."""

    __tablename__ = "test_result"
    __table_args__ = (UniqueConstraint("run_id", "test_id"),)
    __test__ = False  # not a pytest test class

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("verification_run.id"))
    test_id: Mapped[int] = mapped_column(ForeignKey("trace_test.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)

    @property
    def test_outcome(self) -> Outcome:
        """The outcome as an enum."""
        return Outcome(self.outcome)
