"""HTTP endpoints of the device-model catalogue: models, hardware revisions, support floor.

Everyone signed in reads the catalogue (hospitals read compatibility from it); the
manufacturer's admins, fleet operators and engineers change it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.fleet import catalog
from medfleet.fleet.tables import DeviceModel

router = APIRouter(prefix=API_PREFIX, tags=["fleet"])
BASE = "/device-models"


class DeviceModelIn(BaseModel):
    """A device model to add to the catalogue."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=200)
    gtin: str | None = Field(default=None, max_length=14, description="GS1 UDI-DI (GTIN)")
    image_kind: Literal["software", "firmware"] = "software"
    supported_from_version_number: int | None = None


class DeviceModelPatch(BaseModel):
    """The lowest version number the manufacturer still supports (null: no floor)."""

    model_config = ConfigDict(extra="forbid")

    supported_from_version_number: int | None


class RevisionIn(BaseModel):
    """A hardware revision to add to a model."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=2000)


class RevisionOut(BaseModel):
    """One hardware revision of a model."""

    name: str
    description: str
    created_at: datetime


class DeviceModelOut(BaseModel):
    """A model of the catalogue with its hardware revisions."""

    name: str
    display_name: str
    gtin: str | None
    image_kind: str
    supported_from_version_number: int | None
    created_at: datetime
    hardware_revisions: list[RevisionOut]


def model_out(model: DeviceModel) -> DeviceModelOut:
    """The API view of a catalogue model."""
    return DeviceModelOut(
        name=model.name,
        display_name=model.display_name,
        gtin=model.gtin,
        image_kind=model.image_kind,
        supported_from_version_number=model.supported_from_version_number,
        created_at=model.created_at,
        hardware_revisions=[
            RevisionOut.model_validate(r, from_attributes=True) for r in model.revisions
        ],
    )


@router.get(BASE)
def list_models(runtime: RuntimeDep, me: CurrentPrincipal) -> list[DeviceModelOut]:  # noqa: ARG001
    """The whole catalogue, by name."""
    with unit_of_work(runtime) as session:
        return [model_out(m) for m in catalog.list_models(session)]


@router.post(BASE, status_code=status.HTTP_201_CREATED)
def register_model(
    body: DeviceModelIn, runtime: RuntimeDep, me: CurrentPrincipal
) -> DeviceModelOut:
    """Add a model to the catalogue (manufacturer admin, fleet operator or engineer)."""
    with unit_of_work(runtime) as session:
        model = catalog.register_model(
            session,
            runtime.audit,
            me,
            name=body.name,
            display_name=body.display_name,
            gtin=body.gtin,
            image_kind=body.image_kind,
            supported_from_version_number=body.supported_from_version_number,
        )
        return model_out(model)


@router.get(f"{BASE}/{{name}}")
def show_model(name: str, runtime: RuntimeDep, me: CurrentPrincipal) -> DeviceModelOut:  # noqa: ARG001
    """One model of the catalogue."""
    with unit_of_work(runtime) as session:
        return model_out(catalog.get_model(session, name))


@router.patch(f"{BASE}/{{name}}")
def set_supported_from(
    name: str, body: DeviceModelPatch, runtime: RuntimeDep, me: CurrentPrincipal
) -> DeviceModelOut:
    """Set or clear the lowest supported version number of a model."""
    with unit_of_work(runtime) as session:
        model = catalog.set_supported_from(
            session, runtime.audit, me, name, body.supported_from_version_number
        )
        return model_out(model)


@router.post(f"{BASE}/{{name}}/revisions", status_code=status.HTTP_201_CREATED)
def add_revision(
    name: str, body: RevisionIn, runtime: RuntimeDep, me: CurrentPrincipal
) -> DeviceModelOut:
    """Add a hardware revision to a model; answers the model with all its revisions."""
    with unit_of_work(runtime) as session:
        catalog.add_hardware_revision(session, runtime.audit, me, name, body.name, body.description)
        return model_out(catalog.get_model(session, name))
