"""HTTP endpoints of advisories: import OSV/NVD records, list vulnerabilities, show one.

Importing is the manufacturer's engineers', QA/RA's and admins' (403 for anyone else, hospital
users included). Advisory content is public, so every signed-in user reads the vulnerability
list and details; hospital users see only what public sources published.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.vulns import advisory_views
from medfleet.vulns.advisories import check_importer, import_advisories
from medfleet.vulns.advisory_model import ParsedAdvisory, Severity
from medfleet.vulns.advisory_sources import parse_document

router = APIRouter(prefix=f"{API_PREFIX}/vulns", tags=["vulns"])
MAX_DOCUMENTS = 10_000


class AdvisoriesIn(BaseModel):
    """Advisory documents to import: OSV records, or NVD CVE API 2.0 answers or ``cve`` objects
    (a document may also be a list of records)."""

    format: Literal["osv", "nvd"]
    documents: list[Any] = Field(min_length=1, max_length=MAX_DOCUMENTS)


@router.post("/advisories", summary="Import OSV or NVD advisory records")
def import_route(body: AdvisoriesIn, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    check_importer(me)  # refuse before reading anything
    parsed: list[ParsedAdvisory] = []
    for index, document in enumerate(body.documents):
        parsed.extend(parse_document(document, body.format, f"documents[{index}]"))
    with unit_of_work(runtime) as session:
        summary = import_advisories(session, runtime.audit, me, parsed, runtime.clock.now())
        return summary.as_dict()


@router.get("/vulnerabilities", summary="Vulnerabilities, most recently published first")
def list_route(
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    severity: Severity | None = None,
    include_withdrawn: bool = False,
    limit: int = Query(50, ge=1, le=advisory_views.MAX_PAGE),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        return advisory_views.list_vulnerabilities(
            session,
            me,
            severity=severity,
            include_withdrawn=include_withdrawn,
            limit=limit,
            offset=offset,
        )


@router.get("/vulnerabilities/{vuln_id}", summary="A vulnerability by any of its ids")
def show_route(vuln_id: str, runtime: RuntimeDep, me: CurrentPrincipal) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        return advisory_views.vulnerability_detail(session, me, vuln_id)
