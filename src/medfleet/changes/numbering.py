"""Records numbered per manufacturer (``CR-7``, ``PR-3``): the next number, and lookup by key."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.changes.tables import ChangeRequest, ProblemReport
from medfleet.errors import MedfleetError

_Row = TypeVar("_Row", ChangeRequest, ProblemReport)


def next_number(
    session: Session, table: type[ChangeRequest] | type[ProblemReport], org_id: int
) -> int:
    """One above the organization's highest number in ``table`` (1 for the first)."""
    highest = session.scalar(select(func.max(table.number)).where(table.org_id == org_id))
    return 1 + (highest or 0)


def find_by_key(
    session: Session,
    table: type[_Row],
    org_id: int,
    key: str,
    prefix: str,
    what: str,
    not_found: type[MedfleetError],
) -> _Row:
    """The row of ``table`` named ``<prefix>-n`` (or just ``n``) in the organization.

    Raises:
        not_found: a malformed key, or no such row in the organization.
    """
    text = key.strip().upper().removeprefix(f"{prefix}-")
    if not text.isdigit():
        raise not_found(f"{key!r} is not a {what} key like {prefix}-1")
    row = session.scalar(select(table).where(table.org_id == org_id, table.number == int(text)))
    if row is None:
        raise not_found(f"{what} {prefix}-{int(text)} not found")
    return row
