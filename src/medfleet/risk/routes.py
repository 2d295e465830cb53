"""HTTP endpoints of the ISO 14971 risk file under ``/api/v1/risk``.

The risk file belongs to the manufacturer: hospital staff get an empty item list and 404 for
everything else. Any manufacturer user reads; admins and QA/RA set the matrix; engineers, QA/RA
and admins propose changes within a change request (``POST .../deltas/{cr}/entries`` with an
``action`` of add, modify or remove; ``DELETE .../entries/{key}`` withdraws a proposal). Every
answer about a delta carries its analysis, as the regulatory assessment reads it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.risk import proposals, service
from medfleet.risk.errors import InvalidDeltaError
from medfleet.risk.items import MAX_SITUATIONS_PER_CONTROL, MAX_TEXT, MAX_TITLE, ItemKind
from medfleet.risk.matrix import MAX_LEVEL_NAME, Acceptability, RiskMatrix
from medfleet.risk.render import file_document, record_dict

router = APIRouter(prefix=f"{API_PREFIX}/risk", tags=["risk file"])

KEY_PATTERN = r"^[A-Za-z]{1,2}-[0-9]{1,9}$"
LevelName = Annotated[str, Field(min_length=1, max_length=MAX_LEVEL_NAME)]
TableRow = Annotated[list[Acceptability], Field(min_length=5, max_length=5)]
ItemKey = Annotated[str, Field(pattern=KEY_PATTERN)]


class MatrixIn(BaseModel):
    """A risk matrix: 5 severity and 5 probability names, 5x5 acceptability (severity rows)."""

    model_config = ConfigDict(extra="forbid")

    severity_names: list[LevelName] = Field(min_length=5, max_length=5)
    probability_names: list[LevelName] = Field(min_length=5, max_length=5)
    table: list[TableRow] = Field(min_length=5, max_length=5)
    significant_harm_from: int = Field(default=3, ge=1, le=5)


class ItemFields(BaseModel):
    """Fields of a hazard, situation or control; which apply depends on the item's kind.

    On ``modify``, only the fields sent change, and ``null`` clears an optional field.
    """

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=MAX_TITLE)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    hazard: str | None = Field(default=None, pattern=KEY_PATTERN)
    sequence: str | None = Field(default=None, max_length=MAX_TEXT)
    harm: str | None = Field(default=None, max_length=MAX_TITLE)
    severity: int | None = Field(default=None, ge=1, le=5)
    probability: int | None = Field(default=None, ge=1, le=5)
    residual_severity: int | None = Field(default=None, ge=1, le=5)
    residual_probability: int | None = Field(default=None, ge=1, le=5)
    benefit_risk: str | None = Field(default=None, max_length=MAX_TEXT)
    kind: (
        Literal["inherent_safety_by_design", "protective_measure", "information_for_safety"] | None
    ) = None
    situations: list[ItemKey] | None = Field(default=None, max_length=MAX_SITUATIONS_PER_CONTROL)
    verification: str | None = Field(default=None, max_length=MAX_TEXT)


class EntryIn(BaseModel):
    """One proposal: ``add`` needs ``kind`` and ``fields``; ``modify`` ``key`` and ``fields``;
    ``remove`` only ``key``."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["add", "modify", "remove"]
    kind: ItemKind | None = None
    key: str | None = Field(default=None, pattern=KEY_PATTERN)
    fields: ItemFields = Field(default_factory=ItemFields)


@router.get("/matrix", summary="The risk matrix")
def get_matrix(runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The manufacturer's matrix (the documented default until one is set)."""
    with unit_of_work(runtime) as session:
        return service.get_matrix(session, principal).as_dict()


@router.put("/matrix", summary="Configure the risk matrix")
def put_matrix(body: MatrixIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Admins and QA/RA replace the matrix; it judges every residual risk from now on."""
    matrix = RiskMatrix.from_dict(body.model_dump(mode="json"))
    with unit_of_work(runtime) as session:
        return service.set_matrix(session, runtime.audit, principal, matrix).as_dict()


@router.get("/items", summary="The risk file's items")
def list_items(runtime: RuntimeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Current hazards, situations and controls with residual risk; empty for hospitals."""
    with unit_of_work(runtime) as session:
        records = service.list_items(session, principal)
        if not records:
            return []
        document = file_document(records, service.matrix_for(session, principal.org_id))
        items: list[dict[str, Any]] = document["items"]
        return items


@router.get("/items/{key}", summary="One risk-file item")
def get_item(key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The current version of ``H-n``, ``HS-n`` or ``RC-n`` with its derived risk facts."""
    with unit_of_work(runtime) as session:
        record = service.get_item(session, principal, key)
        file = service.current_file(session, principal.org_id)
        return record_dict(record, file, service.matrix_for(session, principal.org_id))


@router.get("/file", summary="Export the risk file")
def export_file(runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Matrix, every item with residual risk, and what is still incomplete (``problems``)."""
    with unit_of_work(runtime) as session:
        return service.export_file(session, principal)


@router.get("/deltas/{cr_key}", summary="A change request's risk delta")
def get_delta(cr_key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Entries (before/after), analysis, whether it still takes changes and what is stale."""
    with unit_of_work(runtime) as session:
        return proposals.delta_view(session, principal, cr_key).as_dict()


@router.get("/deltas/{cr_key}/analysis", summary="The analysis of a change request's delta")
def get_analysis(cr_key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Per situation and control touched: what the regulatory assessment reads."""
    with unit_of_work(runtime) as session:
        return proposals.delta_view(session, principal, cr_key).analysis.as_dict()


@router.post(
    "/deltas/{cr_key}/entries",
    status_code=status.HTTP_201_CREATED,
    summary="Propose a risk-file change",
)
def post_entry(
    cr_key: str, body: EntryIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Add, modify or remove an item within the change request; answers with the new delta."""
    fields = body.fields.model_dump(exclude_unset=True)
    with unit_of_work(runtime) as session:
        audit = runtime.audit
        if body.action == "add":
            if body.kind is None or body.key is not None:
                raise InvalidDeltaError("add needs 'kind' (hazard, situation, control), no 'key'")
            proposals.propose_addition(session, audit, principal, cr_key, body.kind, fields)
        elif body.key is None or body.kind is not None:
            raise InvalidDeltaError(f"{body.action} needs the item's 'key' and no 'kind'")
        elif body.action == "modify":
            proposals.propose_modification(session, audit, principal, cr_key, body.key, fields)
        else:
            if fields:
                raise InvalidDeltaError("remove takes no fields")
            proposals.propose_removal(session, audit, principal, cr_key, body.key)
        return proposals.delta_view(session, principal, cr_key).as_dict()


@router.delete(
    "/deltas/{cr_key}/entries/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw a proposal",
)
def delete_entry(
    cr_key: str, key: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Response:
    """Drop the change request's proposal for ``key``; the item is as released again."""
    with unit_of_work(runtime) as session:
        proposals.withdraw(session, runtime.audit, principal, cr_key, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
