"""HTTP endpoints of the audit trail: read events (scoped to the caller) and verify the chain.

Hospital staff read only events recorded for their own organization. The manufacturer's admins
and auditors read every event and may verify the whole chain; other manufacturer roles get 403.
Reading is paged by sequence number (``after_seq``), which is stable while the trail grows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.audit.access import read_events, require_verifier
from medfleet.audit.export import event_as_dict
from medfleet.audit.service import verify

router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])

MAX_PAGE = 1000


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
    require_verifier(principal)
    with unit_of_work(runtime) as session:
        result = verify(session, runtime.trusted_keys())
    return VerifyOut.model_validate(result.as_dict())
