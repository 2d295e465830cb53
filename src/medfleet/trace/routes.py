"""HTTP endpoints of traceability: requirements, tests, links, JUnit runs, gaps, regression
sets and the trace matrix.

Everything belongs to the manufacturer: hospital staff get empty lists and 404 for any key or
report. A JUnit file is uploaded as the raw request body (``Content-Type: application/xml``)
with the build id in the query. The regression set of a change request takes its touched risk
controls and its safety class as query parameters for now (the risk delta and the change's
classification will provide them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.trace import links, reports, runs, service
from medfleet.trace.matrix import to_csv, to_html
from medfleet.trace.model import MAX_ITEM, MAX_KEY, MAX_TEST_KEY, MAX_TEXT, MAX_TITLE, TraceScope
from medfleet.trace.render import requirement_dict, trace_test_dict

router = APIRouter(prefix=f"{API_PREFIX}/trace", tags=["traceability"])

ChangeKey = Field(default=None, max_length=32, description="write it under this CR (CR-n)")


class RequirementIn(BaseModel):
    """A new requirement at version 1."""

    key: str = Field(min_length=1, max_length=MAX_KEY, examples=["SRS-101"])
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    kind: str = Field(examples=["functional", "safety"])
    software_item: str = Field(min_length=1, max_length=MAX_ITEM)
    change_request: str | None = ChangeKey


class RequirementPatch(BaseModel):
    """Fields of the next version; omitted fields keep their value."""

    title: str | None = Field(default=None, max_length=MAX_TITLE)
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    kind: str | None = None
    software_item: str | None = Field(default=None, max_length=MAX_ITEM)
    change_request: str | None = ChangeKey


class RetireIn(BaseModel):
    """Retiring a requirement, optionally under a change request."""

    change_request: str | None = ChangeKey


class LevelIn(BaseModel):
    """A test level."""

    level: Literal["unit", "integration", "system"]


class TestLinkIn(BaseModel):
    """A test verifies a requirement."""

    __test__ = False  # not a pytest test class

    requirement: str = Field(max_length=MAX_KEY)
    test: str = Field(max_length=MAX_TEST_KEY)


class ControlLinkIn(BaseModel):
    """A risk control is implemented by a requirement."""

    control: str = Field(max_length=32)
    requirement: str = Field(max_length=MAX_KEY)


Document = dict[str, Any]
BuildQuery = Annotated[str, Query(max_length=200, description="the build id")]


@router.get("/requirements", summary="List requirements")
def list_requirements(
    runtime: RuntimeDep, principal: CurrentPrincipal, include_retired: bool = False
) -> list[Document]:
    """Current requirements by id (with ``include_retired``, retired ones too)."""
    with unit_of_work(runtime) as session:
        found = service.list_requirements(session, principal, include_retired)
        return [requirement_dict(session, r) for r in found]


@router.post("/requirements", status_code=status.HTTP_201_CREATED, summary="Add a requirement")
def create_requirement(
    body: RequirementIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Document:
    """Version 1 of a new requirement (engineers, QA/RA, admins)."""
    with unit_of_work(runtime) as session:
        requirement = service.create_requirement(
            session,
            runtime.audit,
            principal,
            body.key,
            body.title,
            body.text,
            body.kind,
            body.software_item,
            body.change_request,
        )
        return requirement_dict(session, requirement, with_history=True)


@router.get("/requirements/{key}", summary="One requirement with its history")
def get_requirement(key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Document:
    """A requirement at its current version, every version, its tests and controls."""
    with unit_of_work(runtime) as session:
        requirement = service.get_requirement(session, principal, key)
        return requirement_dict(session, requirement, with_history=True)


@router.patch("/requirements/{key}", summary="Revise a requirement (new version)")
def revise_requirement(
    key: str, body: RequirementPatch, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Document:
    """Write the next version; 409 when retired, 422 when nothing changes."""
    with unit_of_work(runtime) as session:
        requirement = service.revise_requirement(
            session,
            runtime.audit,
            principal,
            key,
            title=body.title,
            text=body.text,
            kind=body.kind,
            software_item=body.software_item,
            change_key=body.change_request,
        )
        return requirement_dict(session, requirement, with_history=True)


@router.post("/requirements/{key}/retire", summary="Retire a requirement")
def retire_requirement(
    key: str, body: RetireIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Document:
    """Retire a requirement (a last version); it is no longer a gap."""
    with unit_of_work(runtime) as session:
        requirement = service.retire_requirement(
            session, runtime.audit, principal, key, body.change_request
        )
        return requirement_dict(session, requirement, with_history=True)


@router.get("/tests", summary="List tests")
def list_tests(runtime: RuntimeDep, principal: CurrentPrincipal) -> list[Document]:
    """Tests by id with their level and requirements."""
    with unit_of_work(runtime) as session:
        return [trace_test_dict(session, t) for t in links.list_tests(session, principal)]


@router.put("/tests/{key:path}/level", summary="Set a test's level")
def set_test_level(
    key: str, body: LevelIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Document:
    """Record whether a test is a unit, integration or system test."""
    with unit_of_work(runtime) as session:
        test = links.set_level(session, runtime.audit, principal, key, body.level)
        return trace_test_dict(session, test)


@router.post("/links/tests", status_code=status.HTTP_201_CREATED, summary="Link a test")
def link_test(body: TestLinkIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> Document:
    """Link a test to a requirement (idempotent; ``created`` says whether it is new)."""
    with unit_of_work(runtime) as session:
        requirement, test, created = links.link_test(
            session, runtime.audit, principal, body.requirement, body.test
        )
        return {"requirement": requirement.key, "test": test.key, "created": created}


@router.delete("/links/tests", status_code=status.HTTP_204_NO_CONTENT, summary="Unlink a test")
def unlink_test(
    requirement: Annotated[str, Query(max_length=MAX_KEY)],
    test: Annotated[str, Query(max_length=MAX_TEST_KEY)],
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
) -> Response:
    """Remove a requirement ↔ test link (404 when there is none)."""
    with unit_of_work(runtime) as session:
        links.unlink_test(session, runtime.audit, principal, requirement, test)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/links/controls", status_code=status.HTTP_201_CREATED, summary="Link a risk control")
def link_control(body: ControlLinkIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> Document:
    """Link a risk control of the risk file to a requirement (idempotent)."""
    with unit_of_work(runtime) as session:
        control, requirement, created = links.link_control(
            session, runtime.audit, principal, body.control, body.requirement
        )
        return {"control": control, "requirement": requirement.key, "created": created}


@router.delete(
    "/links/controls", status_code=status.HTTP_204_NO_CONTENT, summary="Unlink a risk control"
)
def unlink_control(
    control: Annotated[str, Query(max_length=32)],
    requirement: Annotated[str, Query(max_length=MAX_KEY)],
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
) -> Response:
    """Remove a risk control ↔ requirement link (404 when there is none)."""
    with unit_of_work(runtime) as session:
        links.unlink_control(session, runtime.audit, principal, control, requirement)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/runs", status_code=status.HTTP_201_CREATED, summary="Import JUnit XML")
def import_run(
    build_id: BuildQuery,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    junit: Annotated[bytes, Body(media_type="application/xml", description="JUnit XML")],
    change_request: Annotated[str | None, Query(max_length=32)] = None,
    file_name: Annotated[str | None, Query(max_length=255)] = None,
) -> Document:
    """Import a JUnit file as a run of ``build_id``: 201 when new, 200 when the same file was
    imported for the build before (the same run)."""
    with unit_of_work(runtime) as session:
        outcome = runs.import_run(
            session, runtime.audit, principal, junit, build_id, file_name, change_request
        )
        if not outcome.created:
            response.status_code = status.HTTP_200_OK
        return {
            **runs.run_dict(outcome.run),
            "created": outcome.created,
            "links_added": outcome.links_added,
            "levels_set": outcome.levels_set,
        }


@router.get("/runs", summary="List verification runs")
def list_runs(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    build_id: Annotated[str | None, Query(max_length=200)] = None,
) -> list[Document]:
    """Runs, newest first, optionally of one build."""
    with unit_of_work(runtime) as session:
        return [runs.run_dict(run) for run in runs.list_runs(session, principal, build_id)]


@router.get("/gaps", summary="Traceability gaps on a build")
def get_gaps(
    build_id: BuildQuery,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    requirement: Annotated[list[str] | None, Query()] = None,
    control: Annotated[list[str] | None, Query()] = None,
    test: Annotated[list[str] | None, Query()] = None,
) -> Document:
    """Every gap on the build, or within a scope when any ``requirement``, ``control`` or
    ``test`` (the regression set) is given."""
    scoped = bool(requirement or control or test)
    scope = (
        TraceScope(frozenset(requirement or ()), frozenset(control or ()), frozenset(test or ()))
        if scoped
        else None
    )
    with unit_of_work(runtime) as session:
        found = reports.gaps_for(session, principal, build_id, scope)
    return {"build_id": build_id, "ok": not found, "gaps": [gap.as_dict() for gap in found]}


@router.get("/regression/{change_key}", summary="Regression set of a change request")
def get_regression(change_key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Document:
    """Tests linked to the requirements and risk controls the change touched, plus the minimum
    for its safety class; each test says why it is in the set."""
    with unit_of_work(runtime) as session:
        found = reports.regression_for_change(session, principal, change_key)
    return {"change_request": found.change_request, **found.regression.as_dict()}


@router.get(
    "/matrix",
    summary="Trace matrix of a build",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "text/csv": {}}}},
)
def get_matrix(
    build_id: BuildQuery,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    format: Annotated[Literal["html", "csv"], Query()] = "html",
) -> Response:
    """The matrix as a self-contained HTML page or as CSV."""
    with unit_of_work(runtime) as session:
        matrix = reports.matrix_for(session, principal, build_id, runtime.clock.now())
    if format == "csv":
        return Response(
            to_csv(matrix),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="trace-matrix.csv"'},
        )
    return Response(to_html(matrix), media_type="text/html; charset=utf-8")
