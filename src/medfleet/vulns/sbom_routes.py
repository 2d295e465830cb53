"""HTTP endpoints of release SBOMs: import (raw JSON body), summary and components, export.

Who may do what is the service's rule (``sboms``): the manufacturer's engineers, QA/RA and
admins import; hospital users read the SBOM of released releases only (drafts are 404) and are
refused an import (403) before the body is read. An empty POST body imports the SBOM already
attached to the release record. Bodies are read with a bound (``sbom_read.MAX_DOCUMENT_BYTES``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool

from medfleet.accounts.model import Principal
from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.runtime import Runtime
from medfleet.vulns import sbom_read, sboms
from medfleet.vulns.errors import SbomTooLargeError
from medfleet.vulns.sbom_export import EXPORT_VERSION, MEDIA_TYPE

router = APIRouter(prefix=f"{API_PREFIX}/vulns", tags=["vulns"])
SBOM = "/releases/{model}/{version}/sbom"


def _check(runtime: Runtime, principal: Principal, model: str, version: str) -> None:
    with unit_of_work(runtime) as session:
        sboms.check_importer(session, principal, model, version)


async def _body(request: Request) -> bytes:
    limit = sbom_read.MAX_DOCUMENT_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise SbomTooLargeError(f"the SBOM has {declared} bytes; at most {limit} are imported")
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise SbomTooLargeError(f"the SBOM exceeds {limit} bytes; nothing was imported")
        chunks.append(chunk)
    return b"".join(chunks)


def _import(
    runtime: Runtime, principal: Principal, model: str, version: str, document: bytes | None
) -> dict[str, Any]:
    with unit_of_work(runtime) as session:
        done = sboms.import_sbom(
            session,
            runtime.audit,
            principal,
            runtime.distribution.blobs,
            model,
            version,
            document,
            runtime.clock.now(),
        )
        return done.as_dict()


@router.post(SBOM, status_code=status.HTTP_201_CREATED, summary="Import a release's SBOM")
async def import_sbom(
    model: str, version: str, request: Request, runtime: RuntimeDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The body is a CycloneDX 1.4-1.6 or SPDX 2.3 JSON document (empty: the attached one).

    Replaces the release's previous SBOM and recomputes its findings; 422 with ``problems``
    listing every problem of an invalid document.
    """
    await run_in_threadpool(_check, runtime, principal, model, version)
    document = await _body(request)
    return await run_in_threadpool(_import, runtime, principal, model, version, document or None)


@router.get(SBOM, summary="A release's SBOM: summary and components")
def get_sbom(
    model: str,
    version: str,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    search: str | None = None,
) -> dict[str, Any]:
    """Components sorted by name; ``search`` keeps those whose name or purl contains it."""
    with unit_of_work(runtime) as session:
        view = sboms.get_sbom(session, principal, model, version)
        rows = sboms.components(session, view, search)
        return {"sbom": view.as_dict(), "components": [sboms.component_dict(r) for r in rows]}


@router.get(f"{SBOM}/cyclonedx", summary="A release's SBOM as CycloneDX 1.6 JSON")
def export_sbom(
    model: str, version: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Response:
    """The export, as ``application/vnd.cyclonedx+json; version=1.6``."""
    with unit_of_work(runtime) as session:
        document = sboms.export_sbom(session, principal, model, version)
    return Response(document, media_type=f"{MEDIA_TYPE}; version={EXPORT_VERSION}")
