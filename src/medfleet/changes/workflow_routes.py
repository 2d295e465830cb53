"""HTTP endpoints of the change workflow: classification, transitions, problem reports, items.

Manufacturer staff only: hospital staff get empty lists and 404 for any key.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.changes import items, problems, workflow
from medfleet.changes.model import ChangeClass, ChangeState, SafetyClass
from medfleet.changes.routes import ChangeRequestOut, render

router = APIRouter(prefix=API_PREFIX, tags=["change control"])


class ClassificationIn(BaseModel):
    """The class of a change, the device model it changes and the software items it touches."""

    change_class: ChangeClass
    device_model: str = Field(min_length=1, max_length=64)
    software_items: list[str] = Field(min_length=1, max_length=200)


class TransitionIn(BaseModel):
    """The state to move to and why."""

    state: ChangeState
    reason: str = Field(default="", max_length=2000)


class ProblemLinkIn(BaseModel):
    """A problem report the change addresses."""

    problem_report: str = Field(min_length=1, max_length=20)


class SoftwareItemIn(BaseModel):
    """A software item and its IEC 62304 safety class."""

    name: str = Field(min_length=1, max_length=120)
    safety_class: SafetyClass
    description: str = Field(default="", max_length=10_000)


class SoftwareItemOut(BaseModel):
    """A registered software item."""

    name: str
    safety_class: str
    description: str


class ProblemIn(BaseModel):
    """A new problem report."""

    title: str = Field(min_length=1, max_length=300)
    source: str = Field(max_length=40)
    criticality: str = Field(max_length=40)
    description: str = Field(default="", max_length=100_000)
    affected_versions: list[str] = Field(default_factory=list, max_length=200)


class ProblemPatch(BaseModel):
    """The investigation and/or the state of a problem report."""

    investigation: str | None = Field(default=None, max_length=100_000)
    state: str | None = Field(default=None, max_length=20)


class ProblemOut(BaseModel):
    """A problem report."""

    key: str
    title: str
    description: str
    source: str
    criticality: str
    affected_versions: list[str]
    investigation: str
    state: str
    author: str
    created_at: str
    updated_at: str


CR = "/change-requests/{key}"


@router.post(f"{CR}/classification", summary="Classify a change request")
def classify(
    key: str, body: ClassificationIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ChangeRequestOut:
    """Set class, device model and software items (the safety class follows)."""
    with unit_of_work(runtime) as session:
        change = workflow.classify(
            session,
            runtime.audit,
            principal,
            key,
            body.change_class,
            body.device_model,
            body.software_items,
        )
        return render(session, runtime, change)


@router.post(f"{CR}/transitions", summary="Move a change request")
def move(
    key: str, body: TransitionIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ChangeRequestOut:
    """409 with what is missing when the state machine or the gate refuses."""
    with unit_of_work(runtime) as session:
        change = workflow.move(
            session, runtime.audit, principal, key, body.state, runtime.trusted_keys(), body.reason
        )
        return render(session, runtime, change)


@router.post(f"{CR}/problem-reports", summary="Address a problem report")
def link_problem(
    key: str, body: ProblemLinkIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ChangeRequestOut:
    """Record that the change request addresses the problem report."""
    with unit_of_work(runtime) as session:
        change = problems.link(session, runtime.audit, principal, key, body.problem_report)
        return render(session, runtime, change)


@router.get("/software-items", summary="List software items")
def list_items(runtime: RuntimeDep, principal: CurrentPrincipal) -> list[SoftwareItemOut]:
    """The manufacturer's software items with their safety classes."""
    with unit_of_work(runtime) as session:
        return [
            SoftwareItemOut(name=i.name, safety_class=i.safety_class, description=i.description)
            for i in items.list_items(session, principal)
        ]


@router.post("/software-items", status_code=status.HTTP_201_CREATED, summary="Add an item")
def register_item(
    body: SoftwareItemIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> SoftwareItemOut:
    """QA/RA or admin register a software item with its safety class."""
    with unit_of_work(runtime) as session:
        item = items.register(
            session, runtime.audit, principal, body.name, body.safety_class, body.description
        )
        return SoftwareItemOut(
            name=item.name, safety_class=item.safety_class, description=item.description
        )


@router.get("/problem-reports", summary="List problem reports")
def list_problems(runtime: RuntimeDep, principal: CurrentPrincipal) -> list[ProblemOut]:
    """Newest first; empty for hospital staff."""
    with unit_of_work(runtime) as session:
        return [ProblemOut(**r.as_dict()) for r in problems.list_all(session, principal)]


@router.post("/problem-reports", status_code=status.HTTP_201_CREATED, summary="Report a problem")
def create_problem(body: ProblemIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> ProblemOut:
    """Record a problem report (source, criticality, affected versions)."""
    new = problems.NewProblem(
        body.title, body.source, body.criticality, body.description, body.affected_versions
    )
    with unit_of_work(runtime) as session:
        return ProblemOut(**problems.create(session, runtime.audit, principal, new).as_dict())


@router.get("/problem-reports/{key}", summary="One problem report")
def get_problem(key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> ProblemOut:
    """A problem report by key (``PR-1``)."""
    with unit_of_work(runtime) as session:
        return ProblemOut(**problems.get(session, principal, key).as_dict())


@router.patch("/problem-reports/{key}", summary="Investigate a problem report")
def investigate_problem(
    key: str, body: ProblemPatch, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ProblemOut:
    """Write the investigation and/or move the state (closing needs the investigation)."""
    with unit_of_work(runtime) as session:
        report = problems.investigate(
            session, runtime.audit, principal, key, body.investigation, body.state
        )
        return ProblemOut(**report.as_dict())
