"""Importing VEX documents: a supplier's OpenVEX, a release's CycloneDX VEX, re-imports, errors."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.vulns import vex_service
from medfleet.vulns.errors import InvalidVexError, VulnsPermissionError
from medfleet.vulns.tables import VexStatement, Vulnerability, VulnerabilityAlias
from medfleet.vulns.vex_documents import ImportReport, import_document
from medfleet.vulns.vex_parsing import parse_document
from tests.vulns.support_vex import (
    BUSYBOX,
    BUSYBOX_PURL,
    HEARTBLEED,
    LOG4SHELL,
    OPENSSL_3,
    OPENSSL_NEW,
    OPENSSL_OLD,
    SBOM_SERIAL,
    ZLIB,
    ZLIB_REF,
    VexScene,
    add_release,
    add_sbom,
    fixture,
    scene,
    statements,
)

__all__ = ["scene"]
SUPPLIER = "supplier-busybox.openvex.json"
RELEASE_VEX = "ip100-4.2.0.cdx-vex.json"


def run_import(scene: VexScene, document: Any, who: str = "engineer") -> ImportReport:
    with transaction(scene.rt.sessions) as session:
        return import_document(
            session, scene.rt.audit, getattr(scene.world, who), document, scene.rt.clock.now()
        )


def exposed(scene: VexScene, key: str) -> list[int]:
    with transaction(scene.rt.sessions) as session:
        return [f.id for f in vex_service.exposed_findings(session, scene.vulnerabilities[key])]


def vulnerability_count(scene: VexScene) -> int:
    with transaction(scene.rt.sessions) as session:
        return session.scalar(select(func.count(Vulnerability.id))) or 0


def test_supplier_openvex_rules_busybox_out_in_every_release_carrying_it(scene: VexScene) -> None:
    other = add_release(scene.rt, scene.world, "4.1.0")
    add_sbom(scene.rt, scene.world, other, serial=None)
    report = run_import(scene, fixture(SUPPLIER))
    assert report.source == "openvex"
    assert report.document_id == "https://bsp.example.com/vex/busybox-2023-001"
    assert sorted(entry["release"] for entry in report.applied) == ["IP-100 4.1.0", "IP-100 4.2.0"]
    assert report.skipped == []
    assert exposed(scene, BUSYBOX) == []
    rows = statements(scene.rt)
    assert {(s.component_ref, s.state, s.justification, s.source) for s in rows} == {
        (BUSYBOX_PURL, "not_affected", "code_not_reachable", "openvex")
    }
    assert rows[0].author == "Example BSP Supplier PSIRT <psirt@bsp.example.com>"
    assert rows[0].stated_at == datetime(2023, 8, 2, 8, 15, tzinfo=UTC)
    assert rows[0].author_user_id is None
    assert "CONFIG_ASH is not set" in rows[0].detail


def test_reimport_is_idempotent(scene: VexScene) -> None:
    first = run_import(scene, fixture(SUPPLIER))
    again = run_import(scene, fixture(SUPPLIER))
    assert len(first.applied) == 1
    assert again.applied == []
    assert [entry["reason"] for entry in again.skipped] == ["already recorded"]
    assert len(statements(scene.rt)) == 1
    newer = fixture(SUPPLIER)
    newer["timestamp"] = "2024-01-01T00:00:00Z"  # a new issue of the same statement counts
    assert len(run_import(scene, newer).applied) == 1


@pytest.mark.parametrize(
    ("purl", "applies"),
    [
        ("pkg:generic/busybox", True),  # no version: every version
        ("pkg:generic/busybox@1.35.0?arch=armv7", True),  # qualifiers do not matter
        ("pkg:generic/busybox@1.36.1", False),
        ("pkg:deb/debian/busybox@1.35.0", False),
    ],
)
def test_purls_compare_with_and_without_version(scene: VexScene, purl: str, applies: bool) -> None:
    document = fixture(SUPPLIER)
    document["statements"][0]["products"] = [{"@id": purl}]
    report = run_import(scene, document)
    assert bool(report.applied) is applies
    if not applies:
        assert report.skipped == [
            {
                "vulnerability": BUSYBOX,
                "ref": purl,
                "reason": f"no component with purl {purl!r} in any of your releases",
            }
        ]
        assert vulnerability_count(scene) == len(scene.vulnerabilities)


def test_release_product_with_subcomponent_stays_in_that_release(scene: VexScene) -> None:
    other = add_release(scene.rt, scene.world, "4.1.0")
    add_sbom(scene.rt, scene.world, other, serial=None)
    document = fixture(SUPPLIER)
    document["statements"][0]["products"] = [
        {"@id": "pkg:generic/IP-100@4.2.0", "subcomponents": [{"@id": BUSYBOX_PURL}]},
        {"@id": f"urn:cdx:{SBOM_SERIAL.removeprefix('urn:uuid:')}/1"},
    ]
    report = run_import(scene, document)
    assert [(e["release"], e["component"]) for e in report.applied] == [
        ("IP-100 4.2.0", BUSYBOX_PURL),
        ("IP-100 4.2.0", None),
    ]


def test_release_cyclonedx_vex(scene: VexScene) -> None:
    other = add_release(scene.rt, scene.world, "4.1.0")
    add_sbom(scene.rt, scene.world, other, serial=None)
    report = run_import(scene, fixture(RELEASE_VEX))
    assert report.source == "cyclonedx-vex"
    applied = {(e["vulnerability"], e["component"], e["state"]) for e in report.applied}
    assert applied == {
        (HEARTBLEED, OPENSSL_OLD, "not_affected"),  # BOM-link to the release SBOM
        (OPENSSL_3, OPENSSL_NEW, "exploitable"),  # purl, confined to 4.2.0
        (ZLIB, ZLIB_REF, "in_triage"),  # bom-ref within the release the metadata names
        (LOG4SHELL, None, "not_affected"),  # the metadata component's own bom-ref
    }
    assert {e["release"] for e in report.applied} == {"IP-100 4.2.0"}
    assert report.skipped == [
        {
            "vulnerability": "CVE-2023-0286",
            "ref": "pkg:generic/openssl@3.0.8",
            "reason": "no component with purl 'pkg:generic/openssl@3.0.8' in IP-100 4.2.0",
        }
    ]
    assert exposed(scene, HEARTBLEED) == []
    assert exposed(scene, OPENSSL_3) == [scene.findings[OPENSSL_3]]
    assert exposed(scene, ZLIB) == [scene.findings[ZLIB]]
    with transaction(scene.rt.sessions) as session:
        alias = session.get_one(VulnerabilityAlias, "DSA-2896-1")  # merged into Heartbleed
        assert alias.vulnerability_id == scene.vulnerabilities[HEARTBLEED]
        times = {row.state: row.stated_at for row in session.scalars(select(VexStatement))}
        assert times["exploitable"] == datetime(2026, 1, 12, 14, 30, tzinfo=UTC)
        assert times["in_triage"] == datetime(2026, 1, 10, 8, tzinfo=UTC)
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "vex.document_imported")
        ).one()
        assert event.object_id == "urn:uuid:8c2a3d0e-4b1f-4f63-9a53-0c1f6c7d2e11"
    assert {s.author for s in statements(scene.rt)} == {"Acme Medical Product Security"}
    assert len(run_import(scene, fixture(RELEASE_VEX)).applied) == 0


def test_aliases_merge_when_the_document_names_another_id(scene: VexScene) -> None:
    with transaction(scene.rt.sessions) as session:
        session.add(
            VulnerabilityAlias(
                alias="DSA-2896-1", vulnerability_id=scene.vulnerabilities[HEARTBLEED]
            )
        )
    document = fixture(SUPPLIER)
    statement = document["statements"][0]
    statement["vulnerability"] = {"name": "DSA-2896-1", "aliases": ["CVE-2014-0160"]}
    statement["products"] = [{"identifiers": {"purl": OPENSSL_OLD}}]
    report = run_import(scene, document)
    assert [e["vulnerability"] for e in report.applied] == [HEARTBLEED]
    assert exposed(scene, HEARTBLEED) == []


def test_implicit_entries_of_a_medfleet_export_are_skipped(scene: VexScene) -> None:
    document = fixture(SUPPLIER)
    document["statements"][0] = {
        "vulnerability": {"name": BUSYBOX},
        "products": [{"@id": BUSYBOX_PURL}],
        "status": "under_investigation",
        "status_notes": "medfleet: matched by an advisory, not analysed yet",
    }
    report = run_import(scene, document)
    assert report.applied == []
    assert report.skipped[0]["reason"] == "implicit in_triage entry of a medfleet export"


def _cdx(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(fixture(RELEASE_VEX))
    for path, value in changes.items():
        target: Any = document
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return document


def _openvex(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = fixture(SUPPLIER)
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def _statement(**fields: Any) -> list[dict[str, Any]]:
    base = {"vulnerability": {"name": BUSYBOX}, "products": [{"@id": BUSYBOX_PURL}]}
    return [{**base, **fields}]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"hello": "world"}, "not a VEX document"),
        ([1, 2], "a VEX document is a JSON object"),
        (_cdx(specVersion="1.3"), "specVersion '1.3' is not supported"),
        (
            _cdx(vulnerabilities__0__analysis__state="bogus"),
            "not valid CycloneDX 1.5: vulnerabilities/0/analysis/state: 'bogus' is not one of",
        ),
        (_cdx(vulnerabilities=[]), "no vulnerabilities"),
        (_cdx(metadata__authors=[]), "names no author"),
        (
            _cdx(vulnerabilities__1__analysis={"state": "exploitable"}),
            "CVE-2022-3602: exploitable needs a response",
        ),
        (_cdx(metadata__timestamp=None), "not valid CycloneDX"),
        (_openvex(author=None), "needs 'author'"),
        (_openvex(version="1"), "integer version"),
        (_openvex(timestamp="yesterday"), "not an ISO 8601 timestamp"),
        (_openvex(timestamp="2023-08-02T10:15:00"), "needs a time zone"),
        (_openvex(statements=[]), "non-empty list of statements"),
        (_openvex(statements=_statement(status="not_affected")), "justification or an impact"),
        (_openvex(statements=_statement(status="affected")), "needs an action_statement"),
        (_openvex(statements=_statement(status="broken")), "unknown OpenVEX status"),
        (_openvex(statements=_statement(status="fixed", products=[])), "list of products"),
        (_openvex(statements=_statement(status="fixed", products=[{}])), "@id or an identifiers"),
        (_openvex(statements=_statement(status="fixed", vulnerability={})), "needs 'name'"),
    ],
)
def test_invalid_documents_are_refused(document: Any, message: str) -> None:
    with pytest.raises(InvalidVexError, match=message.replace("(", r"\(")):
        parse_document(document)


def test_an_invalid_document_changes_nothing(scene: VexScene) -> None:
    document = _cdx()
    document["vulnerabilities"][-1]["analysis"] = {"state": "not_affected"}  # the last is bad
    with pytest.raises(InvalidVexError, match="CVE-2023-0286: not_affected needs"):
        run_import(scene, document)
    assert statements(scene.rt) == []
    assert vulnerability_count(scene) == len(scene.vulnerabilities)


@pytest.mark.parametrize("who", ["auditor", "biomed_a"])
def test_only_vex_authors_import(scene: VexScene, who: str) -> None:
    with pytest.raises(VulnsPermissionError):
        run_import(scene, fixture(SUPPLIER), who)
    assert statements(scene.rt) == []


def test_a_document_about_an_unknown_release_matches_only_purls_and_bom_links(
    scene: VexScene,
) -> None:
    report = run_import(scene, _cdx(metadata__component__version="9.9.9"))
    assert {e["vulnerability"] for e in report.applied} == {HEARTBLEED, OPENSSL_3}
    reasons = {e["ref"]: e["reason"] for e in report.skipped}
    assert "metadata component is none of your releases" in reasons[ZLIB_REF]
