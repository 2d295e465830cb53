"""Change-control tables: change requests, problem reports, software items and their links.

A change request is numbered per manufacturer (CR-1, CR-2, ...) and e-signable; its signature
covers the content people decide on (title, description, class, device model, software items,
problem reports), not its state, so moving it through the workflow keeps its signatures valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medfleet.accounts.tables import User
from medfleet.changes.model import (
    ChangeClass,
    ChangeState,
    Criticality,
    ProblemSource,
    ProblemState,
    SafetyClass,
    highest_class,
)
from medfleet.db.base import Base, UTCDateTime

RECORD_TYPE = "change_request"

change_request_item = Table(
    "change_request_item",
    Base.metadata,
    Column("change_request_id", ForeignKey("change_request.id"), primary_key=True),
    Column("software_item_id", ForeignKey("software_item.id"), primary_key=True),
)

change_request_problem = Table(
    "change_request_problem",
    Base.metadata,
    Column("change_request_id", ForeignKey("change_request.id"), primary_key=True),
    Column("problem_report_id", ForeignKey("problem_report.id"), primary_key=True),
)


class SoftwareItem(Base):
    """A software item of the manufacturer's architecture with its IEC 62304 safety class."""

    __tablename__ = "software_item"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    safety_class: Mapped[str] = mapped_column(String(1))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def safety(self) -> SafetyClass:
        """The safety class as an enum."""
        return SafetyClass(self.safety_class)


class ProblemReport(Base):
    """A problem report (IEC 62304 §9): source, criticality, affected versions, investigation."""

    __tablename__ = "problem_report"
    __table_args__ = (UniqueConstraint("org_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    criticality: Mapped[str] = mapped_column(String(32))
    affected_versions: Mapped[list[str]] = mapped_column(JSON)
    investigation: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship()

    @property
    def key(self) -> str:
        """The human identifier, such as ``PR-3``."""
        return f"PR-{self.number}"

    @property
    def status(self) -> ProblemState:
        """The state as an enum."""
        return ProblemState(self.state)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "source": ProblemSource(self.source).value,
            "criticality": Criticality(self.criticality).value,
            "affected_versions": list(self.affected_versions),
            "investigation": self.investigation,
            "state": self.state,
            "author": self.author.username,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class ChangeRequest(Base):
    """A change request, numbered per manufacturer (CR-1, CR-2, ...); e-signable."""

    __tablename__ = "change_request"
    __table_args__ = (UniqueConstraint("org_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(32), default=ChangeState.DRAFT.value)
    change_class: Mapped[str | None] = mapped_column(String(32))
    device_model: Mapped[str | None] = mapped_column(String(64))

    author: Mapped[User] = relationship()
    items: Mapped[list[SoftwareItem]] = relationship(
        secondary=change_request_item, order_by=SoftwareItem.name
    )
    problems: Mapped[list[ProblemReport]] = relationship(
        secondary=change_request_problem, order_by=ProblemReport.number
    )

    @property
    def key(self) -> str:
        """The human identifier, such as ``CR-12``."""
        return f"CR-{self.number}"

    @property
    def status(self) -> ChangeState:
        """The state as an enum."""
        return ChangeState(self.state)

    @property
    def kind(self) -> ChangeClass | None:
        """The classification, once impact analysis set it."""
        return ChangeClass(self.change_class) if self.change_class else None

    @property
    def safety_class(self) -> SafetyClass | None:
        """The highest IEC 62304 class of the software items the change touches."""
        return highest_class(item.safety for item in self.items)

    @property
    def label(self) -> str:
        """E-signature label: the key."""
        return self.key

    @property
    def record_type(self) -> str:
        """E-signature record type."""
        return RECORD_TYPE

    @property
    def record_id(self) -> str:
        """E-signature record id."""
        return str(self.id)

    def canonical_content(self) -> dict[str, Any]:
        """What a signature on this change request vouches for (its state is not content)."""
        content: dict[str, Any] = {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "author": self.author.username,
        }
        # Fields added by issue 4 join the content only once set, so signatures made before
        # classification stay valid until someone classifies the change.
        if self.change_class is not None:
            content["change_class"] = self.change_class
        if self.device_model is not None:
            content["device_model"] = self.device_model
        if self.items:
            content["software_items"] = [[i.name, i.safety_class] for i in self.items]
        if self.problems:
            content["problem_reports"] = [p.key for p in self.problems]
        return content
