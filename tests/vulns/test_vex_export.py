"""Exporting a release's VEX: valid CycloneDX 1.6, OpenVEX, and both re-import to the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from sqlalchemy import delete, update

from medfleet.db.engine import transaction
from medfleet.releases.errors import ReleaseNotFoundError
from medfleet.vulns.tables import Sbom, SbomComponent, VexStatement, Vulnerability
from medfleet.vulns.vex_documents import import_document
from medfleet.vulns.vex_export import export_cyclonedx, export_openvex, release_vex
from tests.vulns.support_vex import (
    BUSYBOX,
    HEARTBLEED,
    LOG4SHELL,
    MODEL,
    OPENSSL_3,
    OPENSSL_OLD,
    SBOM_SERIAL,
    VERSION,
    ZLIB,
    ZLIB_REF,
    VexScene,
    add_release,
    add_vulnerability,
    scene,
    statements,
)

__all__ = ["scene"]
SERIAL = SBOM_SERIAL.removeprefix("urn:uuid:")
RELEASE_PURL = f"pkg:generic/{MODEL}@{VERSION}"


def record_some(scene: VexScene) -> None:
    """Statements of every kind: component by purl and by bom-ref, release-wide."""
    add_vulnerability(scene.rt, LOG4SHELL, severity="critical", cvss_score=10.0,
                      cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H")  # fmt: skip
    scene.record(
        vulnerability=HEARTBLEED, state="not_affected", justification="code_not_present",
        responses=["will_not_fix"], detail="Heartbeat compiled out.", component=OPENSSL_OLD,
    )  # fmt: skip
    scene.record(
        vulnerability=OPENSSL_3, state="exploitable", responses=["update", "workaround_available"],
        detail="Update to 4.2.1.", component="openssl-3.0.5",
    )  # fmt: skip
    scene.record(vulnerability=ZLIB, state="resolved", detail="Patched.", component=ZLIB_REF)
    scene.record(
        vulnerability=LOG4SHELL, state="not_affected", justification="requires_environment"
    )


def cyclonedx(scene: VexScene, who: str = "engineer", **kw: Any) -> dict[str, Any]:
    with transaction(scene.rt.sessions) as session:
        data = release_vex(session, getattr(scene.world, who), MODEL, VERSION, **kw)
        text = export_cyclonedx(data, scene.rt.clock.now())
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    document: dict[str, Any] = json.loads(text)
    return document


def openvex(scene: VexScene, who: str = "engineer", **kw: Any) -> dict[str, Any]:
    with transaction(scene.rt.sessions) as session:
        data = release_vex(session, getattr(scene.world, who), MODEL, VERSION, **kw)
        return export_openvex(data, scene.rt.clock.now())


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in document["vulnerabilities"]}


def in_force(scene: VexScene) -> set[tuple[Any, ...]]:
    return {
        (s.vulnerability_id, s.component_ref, s.state, s.justification, tuple(s.responses),
         s.detail, s.author, s.stated_at)
        for s in statements(scene.rt)
    }  # fmt: skip


def test_cyclonedx_export_is_valid_1_6_with_every_field(scene: VexScene) -> None:
    record_some(scene)
    document = cyclonedx(scene)
    assert document["specVersion"] == "1.6"
    assert document["metadata"]["component"]["bom-ref"] == RELEASE_PURL
    entries = by_id(document)
    assert set(entries) == {HEARTBLEED, OPENSSL_3, ZLIB, LOG4SHELL, BUSYBOX}
    heartbleed = entries[HEARTBLEED]
    assert heartbleed["analysis"] == {
        "state": "not_affected",
        "justification": "code_not_present",
        "response": ["will_not_fix"],
        "detail": "Heartbeat compiled out.",
        "firstIssued": "2026-01-15T09:00:00+00:00",
        "lastUpdated": "2026-01-15T09:00:00+00:00",
    }
    assert heartbleed["affects"] == [{"ref": f"urn:cdx:{SERIAL}/1#openssl-1.0.1f"}]
    assert heartbleed["source"]["url"] == f"https://nvd.nist.gov/vuln/detail/{HEARTBLEED}"
    assert {"name": "medfleet:vex:author", "value": "Eve Engineer"} in heartbleed["properties"]
    assert entries[ZLIB]["affects"] == [{"ref": f"urn:cdx:{SERIAL}/1#{ZLIB_REF}"}]
    log4shell = entries[LOG4SHELL]
    assert log4shell["affects"] == [{"ref": RELEASE_PURL}]
    assert log4shell["ratings"] == [
        {
            "score": 10.0,
            "severity": "critical",
            "method": "CVSSv31",
            "vector": "AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
        }
    ]
    untriaged = entries[BUSYBOX]  # a finding nobody analysed yet
    assert untriaged["analysis"]["state"] == "in_triage"
    assert {"name": "medfleet:vex:implicit", "value": "true"} in untriaged["properties"]
    assert BUSYBOX not in by_id(cyclonedx(scene, include_untriaged=False))


def test_aliases_are_references(scene: VexScene) -> None:
    add_vulnerability(scene.rt, "CVE-2099-1111", "GHSA-aaaa-bbbb-cccc", "OSV-2099-1")
    scene.record(vulnerability="GHSA-aaaa-bbbb-cccc", state="in_triage")
    entry = by_id(cyclonedx(scene))["CVE-2099-1111"]
    assert [(r["id"], r["source"]["name"]) for r in entry["references"]] == [
        ("GHSA-aaaa-bbbb-cccc", "GitHub"),
        ("OSV-2099-1", "OSV"),
    ]


def test_without_uuid_serial_refs_are_plain_bom_refs(scene: VexScene) -> None:
    record_some(scene)
    with transaction(scene.rt.sessions) as session:
        session.execute(update(Sbom).values(serial_number=None))
    assert by_id(cyclonedx(scene))[HEARTBLEED]["affects"] == [{"ref": "openssl-1.0.1f"}]


def test_a_statement_whose_component_left_the_sbom_is_left_out(scene: VexScene) -> None:
    record_some(scene)
    with transaction(scene.rt.sessions) as session:
        session.execute(
            update(SbomComponent)
            .where(SbomComponent.purl == OPENSSL_OLD)
            .values(purl="pkg:generic/openssl@1.0.1g", version="1.0.1g")
        )
    assert HEARTBLEED not in by_id(cyclonedx(scene, include_untriaged=False))


def reimport(scene: VexScene, document: dict[str, Any]) -> list[dict[str, Any]]:
    with transaction(scene.rt.sessions) as session:
        report = import_document(
            session, scene.rt.audit, scene.world.engineer, document, scene.rt.clock.now()
        )
        return report.applied


def forget_statements(scene: VexScene) -> None:
    with transaction(scene.rt.sessions) as session:
        session.execute(delete(VexStatement))


def test_cyclonedx_round_trip(scene: VexScene) -> None:
    record_some(scene)
    before = in_force(scene)
    document = cyclonedx(scene)
    assert reimport(scene, document) == []  # everything already recorded
    forget_statements(scene)
    assert len(reimport(scene, document)) == len(before)
    assert in_force(scene) == before


def test_openvex_export_and_round_trip(scene: VexScene) -> None:
    record_some(scene)
    before = {row[:2] + row[2:4] for row in in_force(scene)}
    document = openvex(scene)
    assert document["author"] == "Eve Engineer"
    assert document["@context"] == "https://openvex.dev/ns/v0.2.0"
    entries = {s["vulnerability"]["name"]: s for s in document["statements"]}
    assert entries[HEARTBLEED]["products"] == [
        {"@id": RELEASE_PURL, "subcomponents": [{"@id": OPENSSL_OLD}]}
    ]
    assert entries[HEARTBLEED]["justification"] == "vulnerable_code_not_present"
    assert entries[HEARTBLEED]["impact_statement"] == "Heartbeat compiled out."
    assert entries[OPENSSL_3]["status"] == "affected"
    assert entries[OPENSSL_3]["action_statement"] == "Update to 4.2.1."
    assert entries[ZLIB]["products"][0]["subcomponents"] == [{"@id": ZLIB_REF}]
    assert entries[LOG4SHELL]["products"] == [{"@id": RELEASE_PURL}]
    assert entries[BUSYBOX]["status"] == "under_investigation"
    forget_statements(scene)
    reimport(scene, document)
    after = {row[:2] + row[2:4] for row in in_force(scene)}
    assert after == before  # state and justification survive (responses do not: OpenVEX)


def test_an_openvex_label_goes_back_out_as_it_came_in(scene: VexScene) -> None:
    """``component_not_present`` and ``vulnerable_code_not_present`` both map to CycloneDX
    ``code_not_present``; the statement keeps which one its author said."""
    document = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://supplier.example.com/vex/1",
        "author": "Supplier PSIRT",
        "timestamp": "2024-02-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": HEARTBLEED},
                "products": [{"@id": RELEASE_PURL, "subcomponents": [{"@id": OPENSSL_OLD}]}],
                "status": "not_affected",
                "justification": "component_not_present",
            }
        ],
    }
    assert len(reimport(scene, document)) == 1
    (row,) = statements(scene.rt)
    assert (row.justification, row.openvex_justification) == (
        "code_not_present", "component_not_present",
    )  # fmt: skip
    entries = {s["vulnerability"]["name"]: s for s in openvex(scene)["statements"]}
    assert entries[HEARTBLEED]["justification"] == "component_not_present"
    assert by_id(cyclonedx(scene))[HEARTBLEED]["analysis"]["justification"] == "code_not_present"


def test_hospitals_export_released_releases_only(scene: VexScene) -> None:
    record_some(scene)
    assert HEARTBLEED in by_id(cyclonedx(scene, "biomed_a"))
    add_release(scene.rt, scene.world, "5.0.0", released=False)
    with (
        transaction(scene.rt.sessions) as session,
        pytest.raises(ReleaseNotFoundError),
    ):
        release_vex(session, scene.world.biomed_a, MODEL, "5.0.0")


def test_untriaged_entry_without_rating(scene: VexScene) -> None:
    with transaction(scene.rt.sessions) as session:
        session.execute(update(Vulnerability).values(severity=None, cvss_score=None))
    busybox = by_id(cyclonedx(scene))[BUSYBOX]
    assert "ratings" not in busybox
    assert busybox["affects"] == [{"ref": f"urn:cdx:{SERIAL}/1#busybox-1.35.0"}]
    assert busybox["analysis"]["firstIssued"] == "2026-01-15T09:00:00+00:00"  # first matched
