"""HTTP endpoints of VEX: statements per release, VEX documents in, CycloneDX and OpenVEX out.

Manufacturer engineers, QA/RA and admins write; the manufacturer's staff read. Hospital users
read the VEX of released releases (customers receive VEX), get 404 for drafts and 403 for any
write, whatever the release.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.vulns import vex_documents, vex_export, vex_service, vex_views
from medfleet.vulns.vex import MAX_DETAIL

router = APIRouter(prefix=f"{API_PREFIX}/vulns", tags=["vulns"])
RELEASE_VEX = "/releases/{model}/{version}/vex"
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json; version=1.6"


class StatementIn(BaseModel):
    """A VEX statement about a release, or one component of its SBOM."""

    vulnerability: str = Field(max_length=100)
    state: str = Field(max_length=32)
    justification: str | None = Field(default=None, max_length=48)
    responses: list[str] = Field(default_factory=list, max_length=5)
    detail: str | None = Field(default=None, max_length=MAX_DETAIL)
    component: str | None = Field(
        default=None, max_length=1000, description="A purl or bom-ref of the release SBOM."
    )


@router.post(RELEASE_VEX, status_code=status.HTTP_201_CREATED, summary="Record a VEX statement")
def record(
    model: str, version: str, body: StatementIn, runtime: RuntimeDep, me: CurrentPrincipal
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        statement = vex_service.record_statement(
            session,
            runtime.audit,
            me,
            model=model,
            version=version,
            vulnerability=body.vulnerability,
            state=body.state,
            justification=body.justification,
            responses=body.responses,
            detail=body.detail,
            component=body.component,
            now=runtime.clock.now(),
        )
        return vex_views.statement_dict(session, statement)


@router.get(RELEASE_VEX, summary="The VEX statements in force for a release, and its findings")
def show(
    model: str,
    version: str,
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    vuln: str | None = None,
    history: bool = False,
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        return vex_views.release_view(
            session, me, model, version, vulnerability=vuln, history=history
        )


@router.post("/vex-documents", summary="Import a CycloneDX VEX or OpenVEX document")
def import_document(
    runtime: RuntimeDep, me: CurrentPrincipal, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        result = vex_documents.import_document(
            session, runtime.audit, me, document, runtime.clock.now()
        )
        return result.as_dict()


@router.get(
    RELEASE_VEX + "/cyclonedx",
    summary="The release's VEX as CycloneDX 1.6",
    response_class=Response,
    responses={200: {"content": {CYCLONEDX_MEDIA_TYPE: {}}}},
)
def export_cyclonedx(
    model: str, version: str, runtime: RuntimeDep, me: CurrentPrincipal, untriaged: bool = True
) -> Response:
    with unit_of_work(runtime) as session:
        data = vex_export.release_vex(session, me, model, version, include_untriaged=untriaged)
        text = vex_export.export_cyclonedx(data, runtime.clock.now())
    return Response(content=text, media_type=CYCLONEDX_MEDIA_TYPE)


@router.get(
    RELEASE_VEX + "/openvex",
    summary="The release's VEX as OpenVEX",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def export_openvex(
    model: str, version: str, runtime: RuntimeDep, me: CurrentPrincipal, untriaged: bool = True
) -> Response:
    with unit_of_work(runtime) as session:
        data = vex_export.release_vex(session, me, model, version, include_untriaged=untriaged)
        document = vex_export.export_openvex(data, runtime.clock.now())
    return Response(content=json.dumps(document, indent=2), media_type="application/json")
