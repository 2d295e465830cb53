"""HTTP endpoints of findings: read them, recompute them.

Findings are manufacturer-internal: hospital users get 403 (they read exposure and notices).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.vulns import findings, findings_views

router = APIRouter(prefix=f"{API_PREFIX}/vulns", tags=["vulns"])


class MatchIn(BaseModel):
    """Which release to recompute; both null: every release with an SBOM."""

    release_model: str | None = Field(default=None, max_length=64)
    release_version: str | None = Field(default=None, max_length=32)


@router.get("/findings", summary="Which releases' components carry which vulnerabilities")
def list_findings(
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    release_model: str | None = None,
    release_version: str | None = None,
    vulnerability: str | None = None,
    include_inactive: bool = False,
) -> list[dict[str, Any]]:
    with unit_of_work(runtime) as session:
        rows = findings_views.list_findings(
            session,
            me,
            model=release_model,
            version=release_version,
            vulnerability=vulnerability,
            include_inactive=include_inactive,
        )
        return [row.as_dict() for row in rows]


@router.post("/match", summary="Recompute findings for one release or all")
def match(body: MatchIn, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        summary = findings.run_matching(
            session, runtime.audit, me, model=body.release_model, version=body.release_version
        )
        return summary.as_dict()
