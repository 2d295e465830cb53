"""The issue's must-show, end to end through the real services: real OpenSSL advisories match.

Sixteen IP-100 releases each carry one OpenSSL version, either by purl only
(``pkg:generic/openssl@V``) or by CPE only (``cpe:2.3:a:openssl:openssl:V``). Their CycloneDX
1.6 SBOMs are imported, then the advisory fixtures (upstream OSV records keyed by
``pkg:generic/openssl`` and NVD CVE records with OpenSSL CPE matches) are read from disk and
imported. Heartbleed (CVE-2014-0160) must match 1.0.1 and 1.0.1f but not 1.0.1g or 1.0.0, and
CVE-2022-3602 must match 3.0.0 and 3.0.6 but not 3.0.7 or 1.1.1, through both routes, each
finding with its reason; OSV and NVD records of one CVE are one vulnerability.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from medfleet.db.engine import transaction
from medfleet.releases.tables import Release
from medfleet.vulns import advisories, advisory_sources, sboms
from medfleet.vulns.tables import Finding, Vulnerability, VulnerabilityAlias
from tests.vulns.support_sbom import MODEL, SbomEnv, create_release, sbom_env

__all__ = ["sbom_env"]  # the fixture, imported for pytest

ADVISORIES = Path(__file__).parent / "fixtures" / "advisories"
HEARTBLEED, SPOOKY = "CVE-2014-0160", "CVE-2022-3602"
EXPECTED = {  # OpenSSL version -> the vulnerabilities it must have
    "1.0.0": set(),
    "1.0.1": {HEARTBLEED},
    "1.0.1f": {HEARTBLEED},
    "1.0.1g": set(),
    "1.1.1": set(),
    "3.0.0": {SPOOKY},
    "3.0.6": {SPOOKY},
    "3.0.7": set(),
}
ROUTES = ("purl", "cpe")


def _release_version(route: str, index: int) -> str:
    return f"{5 + ROUTES.index(route)}.{index}.0"


def _sbom(openssl: str, route: str) -> bytes:
    component: dict[str, object] = {
        "type": "library",
        "bom-ref": "openssl",
        "name": "openssl",
        "version": openssl,
        "supplier": {"name": "OpenSSL Software Foundation"},
    }
    if route == "purl":
        component["purl"] = f"pkg:generic/openssl@{openssl}"
    else:
        component["cpe"] = f"cpe:2.3:a:openssl:openssl:{openssl}:*:*:*:*:*:*:*"
    return json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "components": [component],
        }
    ).encode()


@pytest.fixture
def matched(sbom_env: SbomEnv) -> dict[tuple[str, str], set[tuple[str, str, str]]]:
    """(route, OpenSSL version) -> {(vulnerability key, matched_by, reason)} after both imports."""
    env = sbom_env
    release_of: dict[str, tuple[str, str]] = {}
    for route in ROUTES:
        for index, openssl in enumerate(EXPECTED):
            version = _release_version(route, index)
            create_release(env, version)
            release_of[version] = (route, openssl)
            with transaction(env.rt.sessions) as session:
                sboms.import_sbom(
                    session,
                    env.rt.audit,
                    env.world.engineer,
                    env.rt.distribution.blobs,
                    MODEL,
                    version,
                    _sbom(openssl, route),
                    env.rt.clock.now(),
                )
    records = advisory_sources.read_advisories(
        [
            ADVISORIES / "osv" / f"{HEARTBLEED}.json",
            ADVISORIES / "osv" / f"{SPOOKY}.json",
            ADVISORIES / "nvd" / f"{HEARTBLEED}.json",
            ADVISORIES / "nvd" / f"{SPOOKY}.json",
        ]
    )
    with transaction(env.rt.sessions) as session:
        advisories.import_advisories(
            session, env.rt.audit, env.world.engineer, records, env.rt.clock.now()
        )
    found: dict[tuple[str, str], set[tuple[str, str, str]]] = {
        value: set() for value in release_of.values()
    }
    with transaction(env.rt.sessions) as session:
        rows = session.execute(
            select(Release.version, Vulnerability.key, Finding.matched_by, Finding.reason)
            .join(Finding, Finding.release_pk == Release.id)
            .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
            .where(Finding.active.is_(True))
        ).all()
        for version, key, matched_by, reason in rows:
            found[release_of[version]].add((key, matched_by, reason))
    return found


def test_openssl_versions_match_the_real_advisories(
    matched: dict[tuple[str, str], set[tuple[str, str, str]]],
) -> None:
    for (route, openssl), hits in sorted(matched.items()):
        assert {key for key, _, _ in hits} == EXPECTED[openssl], (route, openssl, hits)
        assert {by for _, by, _ in hits} <= {route}, (route, openssl, hits)
        for _, _, reason in hits:
            assert openssl in reason, (route, openssl, reason)
    assert len(matched) == len(ROUTES) * len(EXPECTED)


def test_osv_and_nvd_records_of_one_cve_are_one_vulnerability(
    matched: dict[tuple[str, str], set[tuple[str, str, str]]], sbom_env: SbomEnv
) -> None:
    assert matched
    with transaction(sbom_env.rt.sessions) as session:
        keys = set(session.scalars(select(Vulnerability.key)))
        rows = session.execute(
            select(VulnerabilityAlias.alias, VulnerabilityAlias.vulnerability_id)
        ).all()
        aliases = {row[0]: row[1] for row in rows}
    assert keys == {HEARTBLEED, SPOOKY}
    assert aliases[HEARTBLEED] != aliases[SPOOKY]
