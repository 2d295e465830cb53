"""The FHIR export: a Bundle of Device resources that parses back in R4B and R5, field by field,
and holds only what the caller may see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.device import Device as DeviceR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from fhir.resources.R4B.device import Device as DeviceR4B
from sqlalchemy import update

from medfleet.accounts import service as accounts
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.errors import PlaceNotFoundError
from medfleet.fleet.fhir_export import FhirVersion, export_devices
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from tests.builders import MODEL, MODEL_GTIN, World, build_world, register_model

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
HRI = f"(01){MODEL_GTIN}(11)250601(17)300131(10)LOT7(21)SN-1"
MDC = "urn:iso:std:iso:11073:10101"


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


@pytest.fixture
def devices(runtime: Runtime, world: World) -> dict[str, str]:
    """SN-1 (A, ICU, UDI, version 4.2.0, tagged test device), SN-2 (B), VM-1 (A, VM-7)."""
    register_model(runtime, world.admin, "VM-7", ("r1",), display_name="Ventilator")
    with transaction(runtime.sessions) as s:
        icu = accounts.create_department(s, runtime.audit, world.admin, world.site_a, "ICU")

        def register(serial: str, org_id: int, model: str = MODEL, **kw: Any) -> str:
            revision = "r1" if model == "VM-7" else "B"
            return enrollment.register_device(
                s, runtime.audit, world.admin, org_id=org_id, model=model,
                hardware_revision=revision, serial=serial, **kw,
            ).device.device_id  # fmt: skip

        ids = {
            "SN-1": register("SN-1", world.hospital_a, site_id=world.site_a,
                             department_id=icu.id, udi=HRI, is_test_device=True,
                             tags=["pilot"]),
            "SN-2": register("SN-2", world.hospital_b, site_id=world.site_b),
            "VM-1": register("VM-1", world.hospital_a, model="VM-7"),
        }  # fmt: skip
        s.execute(
            update(Device)
            .where(Device.device_id.in_([ids["SN-1"], ids["VM-1"]]))
            .values(installed_version="4.2.0", installed_version_number=420)
        )
    return ids


def export(rt: Runtime, principal: Any, version: FhirVersion, **kw: Any) -> dict[str, Any]:
    with transaction(rt.sessions) as session:
        return export_devices(session, principal, fhir_version=version, now=NOW, **kw)


def resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["resource"]["serialNumber"]: e["resource"] for e in bundle.get("entry", [])}


def typed_versions(resource: dict[str, Any]) -> list[tuple[str, str]]:
    result = []
    for version in resource["version"]:
        [coding] = version["type"]["coding"]
        assert coding["system"] == MDC
        result.append((coding["code"], version["value"]))
    return result


def common_checks(device: dict[str, Any], world: World, device_id: str) -> None:
    assert device["id"] == device_id
    assert {"system": "urn:medfleet:device-id", "value": device_id} in device["identifier"]
    serial = [i for i in device["identifier"] if i["system"] == "urn:medfleet:serial:IP-100"]
    assert [i["value"] for i in serial] == ["SN-1"]
    assert serial[0]["type"]["coding"][0]["code"] == "SNO"
    assert device["serialNumber"] == "SN-1"
    assert device["lotNumber"] == "LOT7"
    assert device["manufactureDate"] == "2025-06-01"
    assert device["expirationDate"] == "2030-01-31"
    assert device["manufacturer"] == "Acme Medical"
    assert device["modelNumber"] == MODEL
    [carrier] = device["udiCarrier"]
    assert carrier == {
        "deviceIdentifier": MODEL_GTIN,
        "issuer": "http://hl7.org/fhir/NamingSystem/gs1-di",
        "carrierHRF": HRI,
    }
    # IP-100 ships firmware: the installed version is a firmware revision
    assert typed_versions(device) == [("531979", "4.2.0"), ("531977", "B")]
    assert device["owner"] == {
        "identifier": {"system": "urn:medfleet:organization", "value": str(world.hospital_a)},
        "display": "St. Anna Hospital",
    }
    assert device["location"]["display"] == "Main Campus / ICU"
    assert device["location"]["identifier"]["system"] == "urn:medfleet:department"
    tags = {(t["system"], t["code"]) for t in device["meta"]["tag"]}
    assert tags == {
        ("urn:medfleet:device-tag", "pilot"),
        ("urn:medfleet:device-flag", "test-device"),
    }


def test_r5_bundle_parses_back_with_every_field(
    runtime: Runtime, world: World, devices: dict[str, str]
) -> None:
    bundle = export(runtime, world.admin, "R5")
    parsed = BundleR5.model_validate(bundle)
    assert (parsed.type, len(parsed.entry or [])) == ("collection", 3)
    assert bundle["timestamp"] == "2026-01-15T09:00:00Z"
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])
    for entry in parsed.entry or []:
        assert isinstance(entry.resource, DeviceR5)
    found = resources(bundle)
    sn1 = found["SN-1"]
    common_checks(sn1, world, devices["SN-1"])
    assert sn1["name"] == [
        {"value": "Infusion pump IP-100", "type": "user-friendly-name"},
        {"value": MODEL, "type": "registered-name"},
    ]
    assert "deviceName" not in sn1
    # VM-7 ships software; a device without a site has no location
    assert typed_versions(found["VM-1"]) == [("531978", "4.2.0"), ("531977", "r1")]
    assert "location" not in found["VM-1"]
    assert "udiCarrier" not in found["VM-1"]
    assert found["SN-2"]["location"] == {
        "identifier": {"system": "urn:medfleet:site", "value": str(world.site_b)},
        "display": "North",
    }
    assert "version" in found["SN-2"]  # the hardware revision even without a reported version
    assert typed_versions(found["SN-2"]) == [("531977", "B")]


def test_r4b_bundle_parses_back_with_every_field(
    runtime: Runtime, world: World, devices: dict[str, str]
) -> None:
    bundle = export(runtime, world.admin, "R4B")
    parsed = BundleR4B.model_validate(bundle)
    assert len(parsed.entry or []) == 3
    for entry in parsed.entry or []:
        assert isinstance(entry.resource, DeviceR4B)
    sn1 = resources(bundle)["SN-1"]
    common_checks(sn1, world, devices["SN-1"])
    assert sn1["deviceName"] == [
        {"name": "Infusion pump IP-100", "type": "user-friendly-name"},
        {"name": MODEL, "type": "model-name"},
    ]
    assert "name" not in sn1


@pytest.mark.parametrize("version", ["R4B", "R5"])
def test_a_hospital_exports_only_its_own_devices(
    runtime: Runtime, world: World, devices: dict[str, str], version: FhirVersion
) -> None:
    assert set(resources(export(runtime, world.biomed_a, version))) == {"SN-1", "VM-1"}
    assert set(resources(export(runtime, world.admin_b, version))) == {"SN-2"}
    own = export(runtime, world.biomed_a, version, hospital_id=world.hospital_a)
    assert set(resources(own)) == {"SN-1", "VM-1"}
    assert set(resources(export(runtime, world.admin, version, hospital_id=world.hospital_b))) == {
        "SN-2"
    }
    for principal, hospital in ((world.biomed_a, world.hospital_b), (world.admin, 999)):
        with pytest.raises(PlaceNotFoundError):
            export(runtime, principal, version, hospital_id=hospital)
    with pytest.raises(PlaceNotFoundError):
        export(runtime, world.admin, version, hospital_id=world.admin.org_id)  # the manufacturer


def test_an_empty_inventory_is_an_empty_valid_bundle(runtime: Runtime, world: World) -> None:
    for version in ("R4B", "R5"):
        bundle = export(runtime, world.biomed_a, version)  # type: ignore[arg-type]
        assert bundle == {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": "2026-01-15T09:00:00Z",
        }
    with pytest.raises(ValueError, match="R6"):
        export(runtime, world.admin, "R6")  # type: ignore[arg-type]
