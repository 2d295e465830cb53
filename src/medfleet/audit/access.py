"""Who may read and verify the audit trail, and the scoped read itself.

Hospital staff read only their own organization's events; the manufacturer's admins and
auditors read all of them and are the only ones who may run a verification.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.errors import PermissionDeniedError
from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.tables import AuditEventRow

TRAIL_READERS = (Role.ADMIN, Role.AUDITOR)


def visible_org(principal: Principal) -> int | None:
    """The one organization whose events the caller may read, or ``None`` for all of them.

    Raises:
        PermissionDeniedError: manufacturer staff other than admins and auditors.
    """
    if principal.org_kind is OrgKind.HOSPITAL:
        return principal.org_id
    if not principal.has_any(*TRAIL_READERS):
        raise PermissionDeniedError("reading the audit trail needs the admin or auditor role")
    return None


def read_events(
    session: Session,
    principal: Principal,
    *,
    after_seq: int,
    limit: int,
    object_type: str | None = None,
    object_id: str | None = None,
) -> list[AuditEventRow]:
    """Events after ``after_seq`` that the caller may see, oldest first, at most ``limit``.

    Raises:
        PermissionDeniedError: see ``visible_org``.
    """
    org_id = visible_org(principal)
    statement = select(AuditEventRow).where(AuditEventRow.seq > after_seq)
    if org_id is not None:
        statement = statement.where(AuditEventRow.org_id == org_id)
    if object_type is not None:
        statement = statement.where(AuditEventRow.object_type == object_type)
    if object_id is not None:
        statement = statement.where(AuditEventRow.object_id == object_id)
    return list(session.scalars(statement.order_by(AuditEventRow.seq).limit(limit)))


def require_verifier(principal: Principal) -> None:
    """Allow only the manufacturer's admins and auditors to verify the whole trail.

    Raises:
        PermissionDeniedError: anybody else.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*TRAIL_READERS):
        raise PermissionDeniedError(
            "verifying the audit trail needs the manufacturer's admin or auditor role"
        )
