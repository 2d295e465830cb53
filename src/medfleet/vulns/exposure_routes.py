"""HTTP endpoints of exposure and hospital notices.

Exposure is scoped per caller: a hospital user gets only its own hospital's devices, sites and
counts. Notices are issued by the manufacturer only; a hospital lists, reads and acknowledges
its own, and another hospital's notice is "not found".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.vulns import notices
from medfleet.vulns.exposure import vulnerability_exposure
from medfleet.vulns.exposure_render import exposure_dict, issue_dict, notice_dict

router = APIRouter(prefix=f"{API_PREFIX}/vulns", tags=["vulns"])
VULNERABILITY = "/vulnerabilities/{vuln_id}"


@router.get(VULNERABILITY + "/exposure", summary="Releases, hospitals, sites and devices exposed")
def exposure(
    vuln_id: str,
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    device_limit: Annotated[
        int | None, Query(ge=0, description="List at most this many devices; counts stay whole.")
    ] = None,
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        found = vulnerability_exposure(session, me, vuln_id, device_limit=device_limit)
        return exposure_dict(found)


@router.post(VULNERABILITY + "/notices", summary="Issue or revise every affected hospital's notice")
def issue(vuln_id: str, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        done = notices.issue_notices(session, runtime.audit, me, vuln_id, runtime.clock.now())
        return issue_dict(done)


@router.get("/notices", summary="Hospital notices (the caller's hospital's only, for hospitals)")
def list_notices(runtime: RuntimeDep, me: CurrentPrincipal) -> list[dict[str, Any]]:
    with unit_of_work(runtime) as session:
        return [notice_dict(v, with_content=False) for v in notices.list_notices(session, me)]


@router.get("/notices/{notice_id}", summary="One hospital notice")
def show_notice(notice_id: int, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        return notice_dict(notices.get_notice(session, me, notice_id))


@router.post("/notices/{notice_id}/acknowledge", summary="Acknowledge a hospital notice")
def acknowledge(notice_id: int, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        view = notices.acknowledge(session, runtime.audit, me, notice_id, runtime.clock.now())
        return notice_dict(view, with_content=False)
