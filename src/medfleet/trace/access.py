"""Who may see and change traceability records, and the lookups every use case shares.

Traceability belongs to the manufacturer: hospital staff get ``TraceNotFoundError`` for every
key (never "forbidden", which would confirm the key exists). Every manufacturer role may read
(auditors included); engineers, QA/RA and admins may write.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.changes import service as changes
from medfleet.trace.errors import (
    RequirementNotFoundError,
    TestNotFoundError,
    TraceNotAllowedError,
    TraceNotFoundError,
)
from medfleet.trace.model import check_requirement_key, check_test_key
from medfleet.trace.tables import Requirement, TraceTest

WRITER_ROLES = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)


def is_staff(principal: Principal) -> bool:
    """True for the manufacturer's staff, who alone see traceability records."""
    return principal.org_kind is OrgKind.MANUFACTURER


def check_staff(principal: Principal) -> None:
    """Refuse hospital staff as if nothing existed.

    Raises:
        TraceNotFoundError: the caller is not the manufacturer's staff.
    """
    if not is_staff(principal):
        raise TraceNotFoundError("traceability records belong to the manufacturer")


def check_writer(principal: Principal, doing: str) -> None:
    """Refuse hospital staff (not found) and read-only manufacturer roles (forbidden).

    Raises:
        TraceNotFoundError: hospital staff.
        TraceNotAllowedError: not an engineer, QA/RA or admin.
    """
    check_staff(principal)
    if not principal.has_any(*WRITER_ROLES):
        raise TraceNotAllowedError(f"{doing} needs the engineer, qa_ra or admin role")


def find_requirement(session: Session, org_id: int, key: str) -> Requirement:
    """A requirement by id (case-insensitive), retired ones included.

    Raises:
        InvalidRequirementError: the id is malformed.
        RequirementNotFoundError: no such requirement in the organization.
    """
    normalized = check_requirement_key(key)
    found = session.scalar(
        select(Requirement).where(Requirement.org_id == org_id, Requirement.key == normalized)
    )
    if found is None:
        raise RequirementNotFoundError(f"requirement {normalized} not found")
    return found


def find_test(session: Session, org_id: int, key: str) -> TraceTest:
    """A test by id.

    Raises:
        InvalidTestError: the id is malformed.
        TestNotFoundError: no such test in the organization.
    """
    normalized = check_test_key(key)
    found = session.scalar(
        select(TraceTest).where(TraceTest.org_id == org_id, TraceTest.key == normalized)
    )
    if found is None:
        raise TestNotFoundError(f"test {normalized} not found")
    return found


def change_request_id(session: Session, principal: Principal, key: str | None) -> int | None:
    """The id of change request ``key`` (``CR-n``) of the caller's organization, or None.

    Raises:
        ChangeRequestNotFoundError: no such change request.
    """
    if key is None or not key.strip():
        return None
    return changes.get(session, principal, key).id
