"""Helpers for the matching and findings tests (no tests here): real advisories, rows, rules.

The advisory data is that of the real records, reduced to what matching reads:

- Heartbleed, CVE-2014-0160: OpenSSL 1.0.1 through 1.0.1f, fixed in 1.0.1g. NVD lists the
  affected CPEs one version at a time (``cpe:2.3:a:openssl:openssl:1.0.1a:…`` …), which an
  advisory package keeps as its explicit versions; the OpenSSL advisory gives the range.
- CVE-2022-3602 (X.509 punycode overflow): OpenSSL 3.0.0 through 3.0.6, fixed in 3.0.7. NVD
  gives ``versionStartIncluding 3.0.0, versionEndExcluding 3.0.7`` on ``openssl:openssl``.

Rows of other parts (releases, SBOMs, vulnerabilities, advisories) are inserted directly through
the ORM, so these tests depend on neither SBOM nor advisory import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.db.engine import transaction
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from medfleet.vulns.matching import Component, Rule, package_of
from medfleet.vulns.ranges import ranges_from_json
from medfleet.vulns.tables import (
    Advisory,
    AdvisoryPackage,
    Finding,
    SbomComponent,
    Vulnerability,
)
from tests.builders import World, build_world
from tests.vulns.support_rows import (
    component_row,
    release_row,
    sbom_row,
    vulnerability_row,
)

HEARTBLEED = "CVE-2014-0160"
CVE_2022_3602 = "CVE-2022-3602"
HEARTBLEED_RANGES: list[dict[str, Any]] = [
    {"type": "ECOSYSTEM", "events": [{"introduced": "1.0.1"}, {"fixed": "1.0.1g"}]}
]
HEARTBLEED_NVD_VERSIONS = ["1.0.1", *(f"1.0.1{letter}" for letter in "abcdef")]
CVE_2022_3602_RANGES: list[dict[str, Any]] = [
    {"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.7"}]}
]
CVE_2022_3602_LAST_AFFECTED: list[dict[str, Any]] = [
    {"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"last_affected": "3.0.6"}]}
]
OPENSSL = "pkg:generic/openssl"
OPENSSL_CPE = "openssl:openssl"


def openssl_cpe(version: str) -> str:
    """OpenSSL's CPE 2.3 name at ``version``."""
    return f"cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*"


# --- the pure engine ---------------------------------------------------------------------------


def rule(
    vulnerability: str = HEARTBLEED,
    *,
    package: str | None = None,
    cpe: str | None = None,
    ranges: Sequence[dict[str, Any]] = (),
    versions: Sequence[str] = (),
    ecosystem: str | None = None,
    rule_id: int = 1,
    advisory_id: int = 1,
    vulnerability_id: int | None = None,
    source: str = "NVD",
) -> Rule:
    """An engine rule, its vulnerability id derived from the key unless given."""
    return Rule(
        rule_id=rule_id,
        vulnerability_id=vulnerability_id or _stable_id(vulnerability),
        vulnerability_key=vulnerability,
        advisory_id=advisory_id,
        advisory_label=f"{source} {vulnerability}",
        package_key=package,
        cpe_key=cpe,
        ecosystem=ecosystem,
        ranges=ranges_from_json(list(ranges)),
        versions=tuple(versions),
    )


def _stable_id(key: str) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(key))


def component(
    purl: str | None = None,
    cpe: str | None = None,
    version: str | None = None,
    component_id: int = 1,
    release_pk: int = 1,
) -> Component:
    """An engine component from its purl, CPE and version."""
    return Component(component_id, release_pk, package_of(purl=purl, cpe=cpe, version=version))


# --- database rows ----------------------------------------------------------------------------


def add_release(
    session: Session, world: World, version: str, number: int, now: datetime, model: str = "IP-100"
) -> Release:
    """A released release row of ``model``."""
    return release_row(session, world, model, version, number, now)


@dataclass(frozen=True)
class Part:
    """One SBOM component: its name, version, purl and CPE."""

    name: str
    version: str | None
    purl: str | None = None
    cpe: str | None = None


def openssl(version: str, *, purl: bool = True, cpe: bool = True) -> Part:
    """OpenSSL at ``version``, named by purl (pkg:generic) and/or by CPE."""
    return Part(
        "openssl",
        version,
        f"{OPENSSL}@{version}" if purl else None,
        openssl_cpe(version) if cpe else None,
    )


def add_sbom(
    session: Session, world: World, release: Release, parts: Sequence[Part]
) -> list[SbomComponent]:
    """An imported SBOM of ``release`` with ``parts`` as its components."""
    sbom = sbom_row(session, world, release.id, release.created_at, len(parts))
    return [
        component_row(
            session,
            sbom,
            bom_ref=f"ref-{index}",
            name=part.name,
            version=part.version,
            purl=part.purl,
            cpe=part.cpe,
        )
        for index, part in enumerate(parts)
    ]


def add_vulnerability(session: Session, key: str, *aliases: str, now: datetime) -> Vulnerability:
    """A vulnerability known by ``key`` and ``aliases``."""
    return vulnerability_row(session, key, *aliases, now=now)


def add_advisory(
    session: Session,
    vulnerability: Vulnerability,
    now: datetime,
    packages: Sequence[dict[str, Any]],
    *,
    source: str = "nvd",
    source_id: str | None = None,
) -> Advisory:
    """An advisory of ``vulnerability`` with ``packages`` (``AdvisoryPackage`` fields)."""
    advisory = Advisory(
        source=source,
        source_id=source_id or vulnerability.key,
        vulnerability_id=vulnerability.id,
        summary=vulnerability.summary,
        content_sha256="0" * 64,
        document={},
        imported_at=now,
    )
    session.add(advisory)
    session.flush()
    session.add_all(
        AdvisoryPackage(
            advisory_id=advisory.id,
            vulnerability_id=vulnerability.id,
            package_key=package.get("package_key"),
            cpe_key=package.get("cpe_key"),
            ecosystem=package.get("ecosystem"),
            ranges=package.get("ranges", []),
            versions=package.get("versions", []),
        )
        for package in packages
    )
    session.flush()
    return advisory


# --- a scene: one release with OpenSSL in every form -------------------------------------


@dataclass(frozen=True)
class Scene:
    """Release 4.0.0 with OpenSSL in every form; Heartbleed and CVE-2022-3602 advisories."""

    rt: Runtime
    world: World
    release: int
    heartbleed: int
    cve_3602: int
    osv_heartbleed: int
    names: dict[int, str]  # component id -> "purl 1.0.1f", "cpe 1.0.0", ...


PARTS = [
    openssl("1.0.0", cpe=False),
    openssl("1.0.1", cpe=False),
    openssl("1.0.1f", cpe=False),
    openssl("1.0.1g", cpe=False),
    openssl("1.0.0", purl=False),
    openssl("1.0.1f", purl=False),
    openssl("1.0.1g", purl=False),
    openssl("3.0.0", cpe=False),
    openssl("3.0.6", purl=False),
    openssl("3.0.7"),
    openssl("1.1.1"),
    Part("busybox", "1.36.1", "pkg:generic/busybox@1.36.1", None),
]


@pytest.fixture
def scene(runtime: Runtime) -> Scene:
    """The world; release IP-100 4.0.0 with ``PARTS``; Heartbleed (an OSV-style range on the
    purl, NVD's version list on the CPE) and CVE-2022-3602 (a range on both); nothing matched."""
    world = build_world(runtime)
    now = runtime.clock.now()
    with transaction(runtime.sessions) as s:
        release = add_release(s, world, "4.0.0", 400, now)
        rows = add_sbom(s, world, release, PARTS)
        heartbleed = add_vulnerability(s, HEARTBLEED, "DSA-2896-1", now=now)
        cve = add_vulnerability(s, CVE_2022_3602, now=now)
        osv = add_advisory(
            s, heartbleed, now, [{"package_key": OPENSSL, "ranges": HEARTBLEED_RANGES}],
            source="osv", source_id="OSV-2014-0160",
        )  # fmt: skip
        add_advisory(
            s, heartbleed, now, [{"cpe_key": OPENSSL_CPE, "versions": HEARTBLEED_NVD_VERSIONS}]
        )
        add_advisory(
            s, cve, now,
            [{"package_key": OPENSSL, "ranges": CVE_2022_3602_RANGES},
             {"cpe_key": OPENSSL_CPE, "ranges": CVE_2022_3602_RANGES}],
        )  # fmt: skip
        names = {row.id: f"{'purl' if row.purl else 'cpe'} {row.version}" for row in rows}
        return Scene(runtime, world, release.id, heartbleed.id, cve.id, osv.id, names)


def findings(scene: Scene, *, active: bool = True) -> dict[tuple[str, str], Finding]:
    """Findings by (vulnerability key, component) — active ones unless ``active`` is False."""
    keys = {scene.heartbleed: HEARTBLEED, scene.cve_3602: CVE_2022_3602}
    with transaction(scene.rt.sessions) as s:
        rows = s.scalars(select(Finding).where(Finding.active.is_(active))).all()
        s.expunge_all()
    return {(keys[row.vulnerability_id], scene.names[row.component_id]): row for row in rows}


EXPECTED = {
    (HEARTBLEED, "purl 1.0.1"): "purl",
    (HEARTBLEED, "purl 1.0.1f"): "purl",
    (HEARTBLEED, "cpe 1.0.1f"): "cpe",
    (CVE_2022_3602, "purl 3.0.0"): "purl",
    (CVE_2022_3602, "cpe 3.0.6"): "cpe",
}
