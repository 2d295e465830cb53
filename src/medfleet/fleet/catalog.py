"""The manufacturer's device-model catalogue: models, their hardware revisions, support floor.

Devices can only be registered for a model of the catalogue and one of its hardware
revisions. The manufacturer's admins, fleet operators and engineers change the catalogue;
everyone signed in may read it (hospitals read compatibility and support status from it).
Every change is recorded in the audit trail in the caller's transaction, under the model
(``object_type`` ``device_model``, ``object_id`` its name). Bad input changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.agent.contract import ContractError, check_name
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet.errors import (
    CatalogNotAllowedError,
    DeviceModelExistsError,
    DeviceModelNotFoundError,
    HardwareRevisionExistsError,
    InvalidDeviceModelError,
    InvalidUdiError,
)
from medfleet.fleet.tables import DeviceModel, HardwareRevision
from medfleet.fleet.udi import parse_gtin

CATALOG_EDITORS = (Role.ADMIN, Role.FLEET_OPERATOR, Role.ENGINEER)
SOFTWARE = "software"
FIRMWARE = "firmware"
IMAGE_KINDS = (SOFTWARE, FIRMWARE)
MAX_DISPLAY_NAME = 200
MAX_DESCRIPTION = 2000
MAX_VERSION_NUMBER = 2**63 - 1
OBJECT_TYPE = "device_model"


def _require_editor(principal: Principal) -> None:
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*CATALOG_EDITORS):
        raise CatalogNotAllowedError(
            "changing the device-model catalogue needs the manufacturer's admin, fleet operator "
            "or engineer role"
        )


def _checked_name(kind: str, value: str) -> str:
    try:
        return check_name(kind, value)
    except ContractError as exc:
        raise InvalidDeviceModelError(str(exc)) from exc


def _checked_version_number(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= MAX_VERSION_NUMBER:
        raise InvalidDeviceModelError(
            f"supported-from version number {value} is not between 0 and {MAX_VERSION_NUMBER}"
        )
    return value


def check_image_kind(image_kind: str) -> str:
    """``software`` or ``firmware``.

    Raises:
        InvalidDeviceModelError: anything else.
    """
    if image_kind not in IMAGE_KINDS:
        raise InvalidDeviceModelError(
            f"image kind {image_kind!r} is not one of {', '.join(IMAGE_KINDS)}"
        )
    return image_kind


def register_model(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    name: str,
    display_name: str,
    gtin: str | None = None,
    image_kind: str = SOFTWARE,
    supported_from_version_number: int | None = None,
) -> DeviceModel:
    """Add a device model to the catalogue (its GTIN is stored as GTIN-14).

    Raises:
        CatalogNotAllowedError: the caller is not manufacturer admin, fleet operator or engineer.
        InvalidDeviceModelError: a malformed name, an empty or long display name, a GTIN that
            is not 8-14 digits or has a bad check digit, an unknown image kind, a negative
            version number.
        DeviceModelExistsError: the name or the GTIN is already in the catalogue.
    """
    _require_editor(principal)
    name = _checked_name("model", name)
    shown = display_name.strip()
    if not shown or len(shown) > MAX_DISPLAY_NAME:
        raise InvalidDeviceModelError(f"a display name is 1-{MAX_DISPLAY_NAME} characters")
    if gtin is not None and gtin.strip():
        try:
            gtin = parse_gtin(gtin)
        except InvalidUdiError as exc:
            raise InvalidDeviceModelError(str(exc)) from exc
    else:
        gtin = None
    check_image_kind(image_kind)
    _checked_version_number(supported_from_version_number)
    if session.scalar(select(DeviceModel.id).where(DeviceModel.name == name)) is not None:
        raise DeviceModelExistsError(f"device model {name!r} is already in the catalogue")
    if gtin is not None:
        holder = session.scalar(select(DeviceModel.name).where(DeviceModel.gtin == gtin))
        if holder is not None:
            raise DeviceModelExistsError(f"GTIN {gtin} already belongs to device model {holder!r}")
    model = DeviceModel(
        org_id=principal.org_id,
        name=name,
        display_name=shown,
        gtin=gtin,
        image_kind=image_kind,
        supported_from_version_number=supported_from_version_number,
        created_at=audit.clock.now(),
        revisions=[],
    )
    session.add(model)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "device_model.registered",
            OBJECT_TYPE,
            name,
            {
                "display_name": shown,
                "gtin": gtin,
                "image_kind": image_kind,
                "supported_from_version_number": supported_from_version_number,
            },
        ),
    )
    return model


def get_model(session: Session, name: str) -> DeviceModel:
    """One model of the catalogue, with its hardware revisions.

    Raises:
        DeviceModelNotFoundError: no model of that name.
    """
    model = session.scalar(select(DeviceModel).where(DeviceModel.name == name))
    if model is None:
        raise DeviceModelNotFoundError(f"no device model {name!r} in the catalogue")
    return model


def find_model(session: Session, name: str) -> DeviceModel | None:
    """The model of that name, or None."""
    return session.scalar(select(DeviceModel).where(DeviceModel.name == name))


def list_models(session: Session) -> list[DeviceModel]:
    """The whole catalogue, by name, each model with its hardware revisions."""
    return list(session.scalars(select(DeviceModel).order_by(DeviceModel.name)))


def add_hardware_revision(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    model_name: str,
    revision: str,
    description: str = "",
) -> HardwareRevision:
    """Add a hardware revision to a model of the catalogue.

    Raises:
        CatalogNotAllowedError: the caller may not change the catalogue.
        DeviceModelNotFoundError: no such model.
        InvalidDeviceModelError: a malformed revision name or a description over 2000 chars.
        HardwareRevisionExistsError: the model already has this revision.
    """
    _require_editor(principal)
    model = get_model(session, model_name)
    revision = _checked_name("hardware revision", revision)
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidDeviceModelError(f"a description is at most {MAX_DESCRIPTION} characters")
    if revision in model.revision_names:
        raise HardwareRevisionExistsError(
            f"device model {model.name!r} already has hardware revision {revision!r}"
        )
    row = HardwareRevision(
        model_id=model.id, name=revision, description=description, created_at=audit.clock.now()
    )
    session.add(row)
    session.flush()
    session.refresh(model, ["revisions"])
    audit.record(
        session,
        NewEvent(
            principal.actor,
            model.org_id,
            "hardware_revision.added",
            OBJECT_TYPE,
            model.name,
            {"revision": revision, "description": description},
        ),
    )
    return row


def set_supported_from(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    model_name: str,
    version_number: int | None,
) -> DeviceModel:
    """Set (or clear, with None) the lowest version number the manufacturer still supports.

    Setting the value it already has changes nothing and records nothing.

    Raises:
        CatalogNotAllowedError: the caller may not change the catalogue.
        DeviceModelNotFoundError: no such model.
        InvalidDeviceModelError: a negative or too large version number.
    """
    _require_editor(principal)
    model = get_model(session, model_name)
    _checked_version_number(version_number)
    before = model.supported_from_version_number
    if before == version_number:
        return model
    model.supported_from_version_number = version_number
    audit.record(
        session,
        NewEvent(
            principal.actor,
            model.org_id,
            "device_model.supported_from_set",
            OBJECT_TYPE,
            model.name,
            {"from": before, "to": version_number},
        ),
    )
    return model
