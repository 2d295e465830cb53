"""HTTP endpoints of hospital acceptance: the pending-release inbox, decisions, policies.

A hospital user sees only its own sites; a release that is not released (or was withdrawn) and
another hospital's site are "not found". The manufacturer reads every site's stance.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.rollouts import acceptance, acceptance_policies, acceptance_views
from medfleet.rollouts.acceptance_render import decision_dict, policy_dict

router = APIRouter(prefix=f"{API_PREFIX}/acceptance", tags=["acceptance"])
RELEASE = "/releases/{model}/{version}"


class DecisionIn(BaseModel):
    """A site's decision on a release."""

    approve: bool
    comment: str | None = Field(default=None, max_length=2000)
    out_of_cycle_consent: bool = False


class PolicyIn(BaseModel):
    """An auto-approval policy for one site (or all: ``site_id`` null) and one urgency."""

    urgency: str
    site_id: int | None = None
    confirm_production: bool = False
    out_of_cycle: bool = False


@router.get("/pending", summary="Releases the caller's hospital's devices could install")
def pending(
    runtime: RuntimeDep, me: CurrentPrincipal, include_decided: bool = False
) -> list[dict[str, Any]]:
    with unit_of_work(runtime) as session:
        entries = acceptance_views.pending_releases(session, me, include_decided=include_decided)
        return [entry.as_dict() for entry in entries]


@router.get(RELEASE, summary="How every concerned site stands on one release")
def release_status(
    model: str, version: str, runtime: RuntimeDep, me: CurrentPrincipal
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        return acceptance_views.release_status(session, me, model, version).as_dict()


@router.put(RELEASE + "/sites/{site_id}", summary="Approve or decline a release for a site")
def decide(
    model: str,
    version: str,
    site_id: int,
    body: DecisionIn,
    runtime: RuntimeDep,
    me: CurrentPrincipal,
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        row = acceptance.decide(
            session,
            runtime.audit,
            me,
            model=model,
            version=version,
            site_id=site_id,
            approve=body.approve,
            comment=body.comment,
            out_of_cycle_consent=body.out_of_cycle_consent,
        )
        return decision_dict(row)


@router.post(
    RELEASE + "/sites/{site_id}/production",
    summary="Confirm that a site's production devices may follow its test devices",
)
def confirm(
    model: str, version: str, site_id: int, runtime: RuntimeDep, me: CurrentPrincipal
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        row = acceptance.confirm_production(
            session, runtime.audit, me, model=model, version=version, site_id=site_id
        )
        return decision_dict(row)


@router.get("/policies", summary="Auto-approval policies")
def list_policies(runtime: RuntimeDep, me: CurrentPrincipal) -> list[dict[str, Any]]:
    with unit_of_work(runtime) as session:
        return [policy_dict(p) for p in acceptance_policies.list_policies(session, me)]


@router.post("/policies", status_code=status.HTTP_201_CREATED, summary="Set a policy")
def set_policy(body: PolicyIn, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        policy = acceptance_policies.set_policy(
            session,
            runtime.audit,
            me,
            site_id=body.site_id,
            urgency=acceptance.parse_urgency(body.urgency),
            confirm_production=body.confirm_production,
            out_of_cycle=body.out_of_cycle,
        )
        return policy_dict(policy)


@router.delete(
    "/policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a policy"
)
def remove_policy(policy_id: int, runtime: RuntimeDep, me: CurrentPrincipal) -> None:
    with unit_of_work(runtime) as session:
        acceptance_policies.remove_policy(session, runtime.audit, me, policy_id)
