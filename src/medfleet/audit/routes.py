"""HTTP endpoints of the audit trail: read events (scoped to the caller) and verify the chain.

Hospital staff read only events recorded for their own organization. The manufacturer's admins
and auditors read every event and may verify the whole chain; other manufacturer roles get 403.
Reading is paged by sequence number (``after_seq``), which is stable while the trail grows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.errors import PermissionDeniedError
from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.audit.service import event_as_dict, verify
from medfleet.audit.tables import AuditEventRow

router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])

MAX_PAGE = 1000
TRAIL_READERS = (Role.ADMIN, Role.AUDITOR)


class AuditEventOut(BaseModel):
    """One event of the hash chain, payload parsed."""

    seq: int
    at: str
    actor: str
    org_id: int | None
    action: str
    object_type: str
    object_id: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """A page of events in sequence order; pass ``next_after_seq`` to read on."""

    events: list[AuditEventOut]
    next_after_seq: int | None


class VerifyOut(BaseModel):
    """Outcome of verifying the whole chain (``VerifyResult.as_dict()``)."""

    ok: bool
    events_checked: int
    last_seq: int
    last_hash: str
    checkpoints_checked: int
    first_bad_seq: int | None
    problem: str | None
    detail: str


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


@router.get("/events", summary="Read the audit trail")
def list_events(
    *,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    after_seq: Annotated[int, Query(ge=0, description="Return events after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    object_type: Annotated[str | None, Query(max_length=100)] = None,
    object_id: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditPage:
    """Events the caller may see, in sequence order; a full page names where to read on."""
    with unit_of_work(runtime) as session:
        rows = read_events(
            session,
            principal,
            after_seq=after_seq,
            limit=limit,
            object_type=object_type,
            object_id=object_id,
        )
        events = [AuditEventOut.model_validate(event_as_dict(row)) for row in rows]
    next_after = events[-1].seq if len(events) == limit else None
    return AuditPage(events=events, next_after_seq=next_after)


@router.get("/verify", summary="Verify the whole audit chain")
def verify_trail(runtime: RuntimeDep, principal: CurrentPrincipal) -> VerifyOut:
    """Recompute every hash and check every signed checkpoint (manufacturer admin or auditor)."""
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*TRAIL_READERS):
        raise PermissionDeniedError(
            "verifying the audit trail needs the manufacturer's admin or auditor role"
        )
    with unit_of_work(runtime) as session:
        result = verify(session, runtime.trusted_keys())
    return VerifyOut.model_validate(result.as_dict())
