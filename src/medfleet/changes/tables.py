"""Change request table (the first of the change-control domain; later issues extend it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medfleet.accounts.tables import User
from medfleet.db.base import Base, UTCDateTime

RECORD_TYPE = "change_request"


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

    author: Mapped[User] = relationship()

    @property
    def key(self) -> str:
        """The human identifier, such as ``CR-12``."""
        return f"CR-{self.number}"

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
        """What a signature on this change request vouches for."""
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "author": self.author.username,
        }
