"""Tables of the regulatory assessment: assessor answers, assessments, PCCPs, clearances.

An assessment row is the recorded result of running the decision functions of
``medfleet.changes.assessment`` over a change request's facts and its assessor answers; it
stores the whole answer path and the SHA-256 of the facts it read, so a later change to the
risk-file delta or the requirements makes it stale. It is e-signable: the signatures on the
assessment memo are signatures on this row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medfleet.accounts.tables import User
from medfleet.changes.tables import ChangeRequest
from medfleet.db.base import Base, UTCDateTime

ASSESSMENT_RECORD_TYPE = "regulatory_assessment"


class AssessorAnswerRow(Base):
    """One assessor's answer to one question of one change request, with its justification."""

    __tablename__ = "assessor_answer"
    __table_args__ = (UniqueConstraint("change_request_id", "question_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_request.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(40))
    value: Mapped[bool] = mapped_column(Boolean)
    justification: Mapped[str] = mapped_column(Text)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())

    assessor: Mapped[User] = relationship()


class AssessmentRecord(Base):
    """A completed regulatory assessment of a change request; e-signable."""

    __tablename__ = "regulatory_assessment"
    __table_args__ = (UniqueConstraint("change_request_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_request.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    facts_sha256: Mapped[str] = mapped_column(String(64))
    fda_outcome: Mapped[str] = mapped_column(String(64))
    mdcg_outcome: Mapped[str] = mapped_column(String(64))
    assessed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    change: Mapped[ChangeRequest] = relationship()
    assessed_by: Mapped[User] = relationship()

    @property
    def author_id(self) -> int:
        """E-signature author: whoever ran the assessment."""
        return self.assessed_by_id

    @property
    def label(self) -> str:
        """E-signature label, such as ``CR-4 assessment 2``."""
        return f"{self.change.key} assessment {self.number}"

    @property
    def record_type(self) -> str:
        """E-signature record type."""
        return ASSESSMENT_RECORD_TYPE

    @property
    def record_id(self) -> str:
        """E-signature record id."""
        return str(self.id)

    def canonical_content(self) -> dict[str, Any]:
        """What a signature on the assessment memo vouches for."""
        return {
            "change_request": self.change.key,
            "number": self.number,
            "facts_sha256": self.facts_sha256,
            "assessment": self.document,
            "assessed_by": self.assessed_by.username,
        }


class PccpPlanRecord(Base):
    """A registered predetermined change control plan for one device model's AI function."""

    __tablename__ = "pccp_plan"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    device_model: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelEvaluationRecord(Base):
    """The evaluation of an AI-model change against a PCCP (one per change request)."""

    __tablename__ = "model_evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_request.id"), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("pccp_plan.id"))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    plan: Mapped[PccpPlanRecord] = relationship()


class ClearanceRecord(Base):
    """A marketing clearance (e.g. a 510(k) K-number) of a device model's software version.

    Changes documented (letter to file) after the latest clearance of a model are judged
    together with every new change of that model.
    """

    __tablename__ = "regulatory_clearance"
    __table_args__ = (UniqueConstraint("org_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    device_model: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(64))
    cleared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    change_request_id: Mapped[int | None] = mapped_column(ForeignKey("change_request.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
