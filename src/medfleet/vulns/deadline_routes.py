"""HTTP endpoints of risk assessments, patch deadlines, the patch policy and out-of-cycle
campaigns.

All are internal to the manufacturer: hospital staff get 403. Bodies and answers are the
documents of ``medfleet vulns assess|deadlines|policy|campaign --json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.vulns import assessments, deadline_views, patch_policy
from medfleet.vulns.assessments import MAX_TEXT
from medfleet.vulns.deadlines import FDA_FIX_DAYS, FDA_INFORM_DAYS
from medfleet.vulns.out_of_cycle import start_out_of_cycle_campaign

router = APIRouter(prefix=f"{API_PREFIX}/vulns", tags=["vulns"])
ASSESSMENT = "/vulnerabilities/{vuln_id}/assessment"


class ReleaseRef(BaseModel):
    """A release of the manufacturer: its device model and version."""

    model: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)


class AssessmentIn(BaseModel):
    """An assessment; ``aware_at``, ``fixed_release`` and ``fix_distributed_at`` left out keep
    what the earlier assessment had (a first one is aware now)."""

    risk: str
    critical: bool = False
    rationale: str = Field(max_length=MAX_TEXT)
    compensating_controls: str = Field(default="", max_length=MAX_TEXT)
    planned_fix: str = Field(default="", max_length=MAX_TEXT)
    aware_at: datetime | None = None
    fixed_release: ReleaseRef | None = None
    fix_distributed_at: datetime | None = None


class PolicyIn(BaseModel):
    """The declared routine cycle, and the uncontrolled-risk deadlines in days."""

    routine_cycle_days: int
    inform_within_days: int = FDA_INFORM_DAYS
    fix_within_days: int = FDA_FIX_DAYS


class CampaignIn(BaseModel):
    """The fixing release an out-of-cycle campaign installs, and optionally its policy."""

    model: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=200)
    policy: dict[str, Any] | None = None


@router.put(ASSESSMENT, summary="Assess or re-assess a vulnerability (computes its deadlines)")
def put_assessment(
    vuln_id: str, body: AssessmentIn, runtime: RuntimeDep, me: CurrentPrincipal
) -> dict[str, object]:
    with unit_of_work(runtime) as session:
        now = runtime.clock.now()
        fixed = body.fixed_release
        assessments.assess(
            session, runtime.audit, me, vuln_id, risk=body.risk, critical=body.critical,
            rationale=body.rationale, compensating_controls=body.compensating_controls,
            planned_fix=body.planned_fix, aware_at=body.aware_at,
            fixed_release=None if fixed is None else (fixed.model, fixed.version),
            fix_distributed_at=body.fix_distributed_at, now=now,
        )  # fmt: skip
        return deadline_views.view_assessment(session, me, vuln_id, now).as_dict()


@router.get(ASSESSMENT, summary="A vulnerability's assessment and its deadlines now")
def get_assessment(vuln_id: str, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, object]:
    with unit_of_work(runtime) as session:
        return deadline_views.view_assessment(session, me, vuln_id, runtime.clock.now()).as_dict()


@router.get("/deadlines", summary="Every assessment's deadlines, overdue first")
def list_deadlines(
    runtime: RuntimeDep, me: CurrentPrincipal, overdue: bool = False
) -> list[dict[str, object]]:
    with unit_of_work(runtime) as session:
        views = deadline_views.list_deadlines(
            session, me, runtime.clock.now(), overdue_only=overdue
        )
        return [view.as_dict() for view in views]


@router.get("/patch-policy", summary="The declared patch policy (or the defaults)")
def get_policy(runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, object]:
    with unit_of_work(runtime) as session:
        return patch_policy.get_policy(session, me).as_dict()


@router.put("/patch-policy", summary="Declare the patch policy")
def put_policy(body: PolicyIn, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, object]:
    with unit_of_work(runtime) as session:
        return patch_policy.set_policy(
            session, runtime.audit, me, routine_cycle_days=body.routine_cycle_days,
            inform_within_days=body.inform_within_days, fix_within_days=body.fix_within_days,
            now=runtime.clock.now(),
        ).as_dict()  # fmt: skip


@router.post(
    "/vulnerabilities/{vuln_id}/campaign",
    status_code=status.HTTP_201_CREATED,
    summary="Start an out-of-cycle campaign of a fixing release for a critical finding",
)
def post_campaign(
    vuln_id: str, body: CampaignIn, runtime: RuntimeDep, me: CurrentPrincipal
) -> dict[str, object]:
    with unit_of_work(runtime) as session:
        started = start_out_of_cycle_campaign(
            session, runtime.audit, me, vuln_id, model=body.model, version=body.version,
            now=runtime.clock.now(), policy=body.policy, name=body.name,
        )  # fmt: skip
        return started.as_dict()
