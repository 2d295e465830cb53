"""Helpers for the VEX tests (no tests here): releases, an SBOM, vulnerabilities and findings.

Rows of other parts (releases, SBOMs, findings, vulnerabilities) are inserted directly through
the ORM, so the VEX tests depend on nothing but the tables.

The fixture release IP-100 4.2.0 carries four components: openssl 1.0.1f and 3.0.5 (purls),
busybox 1.35.0 (purl) and zlib 1.2.11 (no purl: named by bom-ref). Its SBOM's serial is
``SBOM_SERIAL``, which the CycloneDX VEX fixture links to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns.tables import (
    SbomComponent,
    VexStatement,
)
from medfleet.vulns.vex_service import record_statement
from tests.builders import World, build_world
from tests.vulns.support_rows import (
    component_row,
    finding_row,
    release_row,
    sbom_row,
    vulnerability_row,
)

FIXTURES = Path(__file__).parent / "fixtures" / "vex"
MODEL = "IP-100"
VERSION = "4.2.0"
SBOM_SERIAL = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
HEARTBLEED = "CVE-2014-0160"
OPENSSL_3 = "CVE-2022-3602"
BUSYBOX = "CVE-2022-48174"
ZLIB = "CVE-2018-25032"
LOG4SHELL = "CVE-2021-44228"
OPENSSL_OLD = "pkg:generic/openssl@1.0.1f"
OPENSSL_NEW = "pkg:generic/openssl@3.0.5"
BUSYBOX_PURL = "pkg:generic/busybox@1.35.0"
ZLIB_REF = "zlib-1.2.11"
COMPONENTS = (  # (bom-ref, name, version, purl)
    ("openssl-1.0.1f", "openssl", "1.0.1f", OPENSSL_OLD),
    ("openssl-3.0.5", "openssl", "3.0.5", OPENSSL_NEW),
    ("busybox-1.35.0", "busybox", "1.35.0", BUSYBOX_PURL),
    (ZLIB_REF, "zlib", "1.2.11", None),
)
CARRIES = {  # vulnerability -> bom-ref of the component that carries it
    HEARTBLEED: "openssl-1.0.1f",
    OPENSSL_3: "openssl-3.0.5",
    BUSYBOX: "busybox-1.35.0",
    ZLIB: ZLIB_REF,
}


@dataclass
class VexScene:
    """The world, release 4.2.0 with its SBOM and findings, and the ids tests refer to."""

    rt: Runtime
    world: World
    release_pk: int
    vulnerabilities: dict[str, int] = field(default_factory=dict)  # key -> id
    findings: dict[str, int] = field(default_factory=dict)  # vulnerability key -> finding id
    components: dict[str, int] = field(default_factory=dict)  # bom-ref -> component id

    def record(self, who: Principal | None = None, /, **fields: Any) -> VexStatement:
        """``who`` (the engineer) records a statement about IP-100 4.2.0, now."""
        fields.setdefault("model", MODEL)
        fields.setdefault("version", VERSION)
        with transaction(self.rt.sessions) as session:
            statement = record_statement(
                session, self.rt.audit, who or self.world.engineer, now=self.rt.clock.now(),
                **fields,
            )  # fmt: skip
            session.expunge(statement)
            return statement


def add_release(
    rt: Runtime, world: World, version: str, *, released: bool = True, model: str = MODEL
) -> int:
    """A release row (inserted directly, never signed), released or a draft; its id."""
    number = int(version.replace(".", ""))
    state = "released" if released else "draft"
    with transaction(rt.sessions) as session:
        return release_row(session, world, model, version, number, rt.clock.now(), state=state).id


def add_sbom(
    rt: Runtime, world: World, release_pk: int, *, serial: str | None = SBOM_SERIAL
) -> dict[str, int]:
    """The fixture SBOM (``COMPONENTS``) for a release; its component ids by bom-ref."""
    with transaction(rt.sessions) as session:
        sbom = sbom_row(session, world, release_pk, rt.clock.now(), len(COMPONENTS), serial=serial)
        return {
            bom_ref: component_row(
                session,
                sbom,
                bom_ref=bom_ref,
                name=name,
                version=version,
                purl=purl,
                keys=(purl.split("@")[0] if purl else None, f"{name}:{name}"),
            ).id
            for bom_ref, name, version, purl in COMPONENTS
        }


def add_vulnerability(rt: Runtime, key: str, *aliases: str, **fields: Any) -> int:
    """A new vulnerability known by ``key`` and ``aliases`` (inserted directly); its id."""
    with transaction(rt.sessions) as session:
        return vulnerability_row(session, key, *aliases, now=rt.clock.now(), **fields).id


def add_finding(
    rt: Runtime, release_pk: int, component_id: int, vulnerability_id: int, *, active: bool = True
) -> int:
    """A finding (matched by purl); its id."""
    with transaction(rt.sessions) as session:
        component = session.get_one(SbomComponent, component_id)
        assert component.release_pk == release_pk
        return finding_row(session, component, vulnerability_id, rt.clock.now(), active=active).id


def build_scene(rt: Runtime) -> VexScene:
    """The world; released IP-100 4.2.0 with the fixture SBOM and one finding per ``CARRIES``."""
    world = build_world(rt)
    scene = VexScene(rt, world, add_release(rt, world, VERSION))
    scene.components = add_sbom(rt, world, scene.release_pk)
    for key, bom_ref in CARRIES.items():
        scene.vulnerabilities[key] = add_vulnerability(rt, key)
        scene.findings[key] = add_finding(
            rt, scene.release_pk, scene.components[bom_ref], scene.vulnerabilities[key]
        )
    return scene


@pytest.fixture
def scene(runtime: Runtime) -> VexScene:
    """See ``build_scene``."""
    return build_scene(runtime)


def fixture(name: str) -> Any:
    """A VEX fixture document, decoded."""
    return json.loads((FIXTURES / name).read_text())


def statements(rt: Runtime) -> list[VexStatement]:
    """Every VEX statement, oldest first (detached)."""
    with transaction(rt.sessions) as session:
        rows = list(session.scalars(select(VexStatement).order_by(VexStatement.id)))
        session.expunge_all()
        return rows
