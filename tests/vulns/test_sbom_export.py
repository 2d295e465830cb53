"""CycloneDX 1.6 export: valid against the 1.6 schema, and it re-imports to the same components."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from medfleet.vulns.sbom_export import export_cyclonedx, release_ref
from medfleet.vulns.sbom_model import Component, Hash
from medfleet.vulns.sbom_read import read_document
from tests.vulns.support_sbom import VALID, fixture

SERIAL = UUID("2f1c5d0e-8a3b-4c6d-9e7f-0a1b2c3d4e5f")
AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def export(components: tuple[Component, ...] | list[Component]) -> str:
    return export_cyclonedx("IP-100", "4.2.0", components, serial_number=SERIAL, timestamp=AT)


@pytest.mark.parametrize("name", VALID)
def test_export_is_valid_cyclonedx_1_6_and_round_trips(name: str) -> None:
    original = read_document(fixture(name)).components
    text = export(original)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    again = read_document(text.encode())
    assert (again.format, again.spec_version) == ("cyclonedx", "1.6")
    assert sorted(again.components, key=lambda c: c.bom_ref) == sorted(
        original, key=lambda c: c.bom_ref
    )


def test_the_document_describes_the_release_and_carries_the_fda_properties() -> None:
    original = read_document(fixture("ip100-cyclonedx-1.4.json")).components
    document = json.loads(export(original))
    assert document["specVersion"] == "1.6"
    assert document["serialNumber"] == f"urn:uuid:{SERIAL}"
    assert document["metadata"]["timestamp"].startswith("2026-01-15T09:00:00")
    release = document["metadata"]["component"]
    assert (release["name"], release["version"], release["type"]) == ("IP-100", "4.2.0", "firmware")
    assert release["bom-ref"] == release_ref("IP-100", "4.2.0")
    depends = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert sorted(depends[release["bom-ref"]]) == sorted(c.bom_ref for c in original)
    openssl = next(c for c in document["components"] if c["name"] == "openssl")
    assert {p["name"]: p["value"] for p in openssl["properties"]} == {
        "medfleet:support-level": "none",
        "medfleet:end-of-support": "2016-12-31",
        "cdx:fda:level-of-support": "no longer maintained",
        "cdx:fda:end-of-support-date": "2016-12-31",
    }
    assert openssl["supplier"] == {"name": "OpenSSL Software Foundation"}
    assert openssl["cpe"] == "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"


def test_export_is_deterministic() -> None:
    original = read_document(fixture("ip100-spdx-2.3.json")).components
    assert export(original) == export(tuple(reversed(original)))


def test_components_alike_but_for_their_bom_ref_stay_apart() -> None:
    openssl = next(
        c for c in read_document(fixture("ip100-cyclonedx-1.6.json")).components
        if c.name == "openssl"
    )  # fmt: skip
    twins = [openssl, replace(openssl, bom_ref="openssl-copy")]
    assert len(read_document(export(twins).encode()).components) == 2


def test_hashes_cyclonedx_does_not_know_are_left_out() -> None:
    component = Component(
        bom_ref="lwip",
        kind="library",
        name="lwip",
        version="2.1.3",
        purl=None,
        package_key=None,
        cpe=None,
        cpe_key=None,
        supplier=None,
        hashes=(Hash("SHA-256", "ab" * 32), Hash("SHA224", "cd" * 28)),
        support_level=None,
        end_of_support=None,
    )
    exported = json.loads(export([component]))["components"][0]
    assert exported["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert "properties" not in exported
