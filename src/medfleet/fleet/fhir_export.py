"""The device inventory as a FHIR Bundle of Device resources (R4B or R5), for hospital systems.

Each device becomes one ``Device``: its medfleet id and serial number as identifiers, its GS1
UDI as ``udiCarrier`` (issuer ``http://hl7.org/fhir/NamingSystem/gs1-di``), serial, lot,
manufacturing and expiry dates, the manufacturer, the model (``modelNumber`` plus R4B
``deviceName`` / R5 ``name``), the installed version typed as software or firmware revision and
the hardware revision, both with IEEE 11073-10101 codes, the owning hospital (``owner``) and
its site and department (``location``), both as logical references (identifier + display)
that are valid in both versions. Tags and the test flag travel as ``meta.tag`` codings.

The bundle is built and validated with ``fhir.resources`` (R5: ``fhir.resources``, R4B:
``fhir.resources.R4B``) and returned as its JSON document. A hospital user exports only its
own devices; another hospital's id is "not found".
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal, cast

from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Organization
from medfleet.fleet.catalog import FIRMWARE
from medfleet.fleet.errors import PlaceNotFoundError
from medfleet.fleet.inventory import find_devices
from medfleet.fleet.tables import Device, DeviceModel
from medfleet.fleet.udi import GS1_DI_ISSUER

FhirVersion = Literal["R4B", "R5"]
FHIR_VERSIONS: tuple[FhirVersion, ...] = ("R4B", "R5")
FHIR_MEDIA_TYPE = "application/fhir+json"

DEVICE_ID_SYSTEM = "urn:medfleet:device-id"
SERIAL_SYSTEM_PREFIX = "urn:medfleet:serial:"
"""Serial numbers are unique per model: the identifier system is this prefix + the model."""
ORGANIZATION_SYSTEM = "urn:medfleet:organization"
SITE_SYSTEM = "urn:medfleet:site"
DEPARTMENT_SYSTEM = "urn:medfleet:department"
TAG_SYSTEM = "urn:medfleet:device-tag"
FLAG_SYSTEM = "urn:medfleet:device-flag"
TEST_DEVICE_FLAG = "test-device"

MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
MDC_HW = ("531977", "MDC_ID_PROD_SPEC_HW")
MDC_SW = ("531978", "MDC_ID_PROD_SPEC_SW")
MDC_FW = ("531979", "MDC_ID_PROD_SPEC_FW")
V2_IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
_NAMESPACE = uuid.UUID("9b0c6f7e-3d55-4a8e-9a57-5f1c0d2b7e41")


def _mdc(code: tuple[str, str]) -> dict[str, Any]:
    return {"coding": [{"system": MDC_SYSTEM, "code": code[0], "display": code[1]}]}


def _versions(device: Device, model: DeviceModel | None) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = []
    if device.installed_version is not None:
        kind = MDC_FW if model is not None and model.image_kind == FIRMWARE else MDC_SW
        versions.append({"type": _mdc(kind), "value": device.installed_version})
    versions.append({"type": _mdc(MDC_HW), "value": device.hardware_revision})
    return versions


def _location(device: Device) -> dict[str, Any] | None:
    if device.site is None:
        return None
    if device.department is None:
        identifier = {"system": SITE_SYSTEM, "value": str(device.site.id)}
        return {"identifier": identifier, "display": device.site.name}
    identifier = {"system": DEPARTMENT_SYSTEM, "value": str(device.department.id)}
    return {"identifier": identifier, "display": f"{device.site.name} / {device.department.name}"}


def _meta(device: Device) -> dict[str, Any] | None:
    tags = [{"system": TAG_SYSTEM, "code": tag, "display": tag} for tag in device.tags]
    if device.is_test_device:
        tags.append({"system": FLAG_SYSTEM, "code": TEST_DEVICE_FLAG, "display": "test device"})
    return {"tag": tags} if tags else None


def _names(device: Device, model: DeviceModel | None, version: FhirVersion) -> dict[str, Any]:
    shown = device.model if model is None else model.display_name
    if version == "R4B":
        return {
            "deviceName": [
                {"name": shown, "type": "user-friendly-name"},
                {"name": device.model, "type": "model-name"},
            ],
            "modelNumber": device.model,
        }
    return {
        "name": [
            {"value": shown, "type": "user-friendly-name"},
            {"value": device.model, "type": "registered-name"},
        ],
        "modelNumber": device.model,
    }


def device_resource(
    device: Device,
    *,
    model: DeviceModel | None,
    manufacturer: str | None,
    hospital: Organization,
    fhir_version: FhirVersion,
) -> dict[str, Any]:
    """One device as a FHIR Device resource (plain JSON, not yet validated)."""
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": device.device_id,
        "identifier": [
            {"system": DEVICE_ID_SYSTEM, "value": device.device_id},
            {
                "type": {
                    "coding": [
                        {"system": V2_IDENTIFIER_TYPES, "code": "SNO", "display": "Serial Number"}
                    ]
                },
                "system": SERIAL_SYSTEM_PREFIX + device.model,
                "value": device.serial,
            },
        ],
        "status": "active",
        "serialNumber": device.serial,
        "version": _versions(device, model),
        "owner": {
            "identifier": {"system": ORGANIZATION_SYSTEM, "value": str(hospital.id)},
            "display": hospital.name,
        },
        **_names(device, model, fhir_version),
    }
    if device.udi_di is not None:
        carrier: dict[str, Any] = {"deviceIdentifier": device.udi_di, "issuer": GS1_DI_ISSUER}
        if device.udi_hri is not None:
            carrier["carrierHRF"] = device.udi_hri
        resource["udiCarrier"] = [carrier]
    optional = {
        "meta": _meta(device),
        "manufacturer": manufacturer,
        "lotNumber": device.udi_lot,
        "manufactureDate": device.udi_manufactured_on and device.udi_manufactured_on.isoformat(),
        "expirationDate": device.udi_expires_on and device.udi_expires_on.isoformat(),
        "location": _location(device),
    }
    resource.update({key: value for key, value in optional.items() if value is not None})
    return resource


def export_devices(
    session: Session,
    principal: Principal,
    *,
    fhir_version: FhirVersion,
    hospital_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The devices the caller may see (of one hospital, if given) as a FHIR collection Bundle.

    ``now`` (timezone-aware) becomes the bundle's timestamp when given.

    Raises:
        PlaceNotFoundError: ``hospital_id`` is no hospital, or not the caller's own.
        ValueError: ``fhir_version`` is not R4B or R5.
    """
    if fhir_version not in FHIR_VERSIONS:
        raise ValueError(f"FHIR version {fhir_version!r} is not one of {FHIR_VERSIONS}")
    if hospital_id is not None:
        hospital = session.get(Organization, hospital_id)
        if (
            hospital is None
            or hospital.kind != OrgKind.HOSPITAL
            or not principal.can_see_org(hospital_id)
        ):
            raise PlaceNotFoundError(f"no hospital {hospital_id}")
    devices = find_devices(session, principal, org_id=hospital_id)
    models = {m.name: m for m in session.scalars(select(DeviceModel))}
    org_ids = {d.org_id for d in devices} | {m.org_id for m in models.values()}
    found = session.scalars(select(Organization).where(Organization.id.in_(org_ids)))
    orgs = {org.id: org for org in found}
    entries = []
    for device in devices:
        model = models.get(device.model)
        manufacturer = None if model is None else orgs[model.org_id].name
        resource = device_resource(
            device,
            model=model,
            manufacturer=manufacturer,
            hospital=orgs[device.org_id],
            fhir_version=fhir_version,
        )
        full_url = f"urn:uuid:{uuid.uuid5(_NAMESPACE, device.device_id)}"
        entries.append({"fullUrl": full_url, "resource": resource})
    document: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if entries:  # FHIR allows no empty arrays
        document["entry"] = entries
    if now is not None:
        document["timestamp"] = now.isoformat()
    bundle_class = BundleR4B if fhir_version == "R4B" else BundleR5
    bundle = bundle_class.model_validate(document)
    return cast(dict[str, Any], json.loads(bundle.model_dump_json(exclude_none=True)))
