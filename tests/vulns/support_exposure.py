"""Helpers for the exposure and notice tests (no tests here): a fleet exposed to Heartbleed.

Rows of other parts (releases, SBOMs, findings, assessments) are inserted directly through the
ORM, so these tests need neither SBOM import nor matching. The scene (``Scene``):

- IP-100 releases 4.0.0 and 4.1.0 carry openssl 1.0.1f (a Heartbleed finding each); 4.2.0
  carries 1.0.1g (no finding) and is the fix. VM-7 1.0.0 carries it too, with no fix.
- St. Anna (hospital A): Main Campus has A-1 (4.0.0, ICU) and A-2 (4.1.0, a test device),
  East Wing has A-3 (4.1.0) and A-6 (VM-7 1.0.0), A-5 (4.1.0) has no site, A-4 runs the fix,
  A-7 (East Wing) reports IP-100 1.0.0, a version of another model's affected release.
- Bayview (hospital B): North has BAY-1 (4.1.0) and BAY-2 (4.0.0); BAY-3 reports no version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from medfleet.accounts import service as accounts
from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from medfleet.vulns.tables import (
    Finding,
    SbomComponent,
    VexStatement,
    VulnAssessment,
    Vulnerability,
)
from tests.builders import World, build_world, register_model
from tests.vulns.support_rows import (
    component_row,
    finding_row,
    release_row,
    sbom_row,
    vulnerability_row,
)

HEARTBLEED = "CVE-2014-0160"
HEARTBLEED_ALIAS = "DSA-2896-1"
VULNERABLE_OPENSSL = "pkg:generic/openssl@1.0.1f"
FIXED_OPENSSL = "pkg:generic/openssl@1.0.1g"


def add_release(
    session: Session,
    world: World,
    version: str,
    number: int,
    now: datetime,
    *,
    model: str = "IP-100",
    **kw: Any,
) -> Release:
    """A release row of ``model`` (released unless ``state`` says otherwise)."""
    return release_row(session, world, model, version, number, now, **kw)


def add_sbom(session: Session, world: World, release: Release, *purls: str) -> list[SbomComponent]:
    """An imported SBOM for ``release`` with one component per purl (openssl gets a CPE)."""
    sbom = sbom_row(session, world, release.id, release.created_at, len(purls))
    components = []
    for purl in purls:
        name, version = purl.rsplit("/", 1)[1].split("@")
        cpe = f"cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*" if name == "openssl" else None
        components.append(
            component_row(
                session,
                sbom,
                bom_ref=purl,
                name=name,
                version=version,
                purl=purl,
                cpe=cpe,
                supplier="OpenSSL Project",
            )
        )
    return components


def add_vulnerability(session: Session, key: str, *aliases: str, now: datetime) -> Vulnerability:
    """A vulnerability known by ``key`` and ``aliases``."""
    return vulnerability_row(
        session, key, *aliases, now=now,
        summary="Heartbeat read overrun leaks memory (Heartbleed)", severity="high", cvss_score=7.5,
    )  # fmt: skip


def add_finding(
    session: Session, component: SbomComponent, vulnerability: Vulnerability, now: datetime
) -> Finding:
    """An active finding: ``component`` carries ``vulnerability`` (matched by purl)."""
    reason = f"{component.name} {component.version} in [1.0.1, 1.0.1g)"
    return finding_row(session, component, vulnerability.id, now, reason=reason)


def add_assessment(
    session: Session, world: World, vulnerability_id: int, now: datetime, **kw: Any
) -> VulnAssessment:
    """The manufacturer's assessment: uncontrolled risk, controls and a planned fix."""
    assessment = VulnAssessment(
        org_id=world.admin.org_id,
        vulnerability_id=vulnerability_id,
        risk=kw.pop("risk", "uncontrolled"),
        critical=kw.pop("critical", False),
        rationale="Reachable over the pump's management interface.",
        compensating_controls=kw.pop(
            "compensating_controls", "Block TCP 443 to the pumps at the firewall."
        ),
        planned_fix=kw.pop("planned_fix", "Update to IP-100 4.2.0."),
        aware_at=now,
        inform_due_at=now + timedelta(days=30),
        fix_due_at=now + timedelta(days=60),
        assessed_by=world.qa.user_id,
        assessed_at=now,
        **kw,
    )
    session.add(assessment)
    session.flush()
    return assessment


def not_affected(
    session: Session,
    world: World,
    release_pk: int,
    vulnerability_id: int,
    component_ref: str,
    now: datetime,
) -> None:
    """A VEX statement: the release's component is not affected (code not reachable)."""
    session.add(
        VexStatement(
            release_pk=release_pk,
            component_ref=component_ref,
            vulnerability_id=vulnerability_id,
            state="not_affected",
            justification="code_not_reachable",
            responses=[],
            detail="The heartbeat extension is compiled out.",
            author="Eve Engineer",
            author_user_id=world.engineer.user_id,
            source="manual",
            stated_at=now,
            recorded_at=now,
        )
    )
    session.flush()


@dataclass
class Scene:
    """The world, the Heartbleed fleet, and the ids tests refer to."""

    rt: Runtime
    world: World
    vulnerability_id: int
    releases: dict[str, int] = field(default_factory=dict)  # release id -> pk
    components: dict[str, str] = field(default_factory=dict)  # release id -> openssl purl
    devices: dict[str, str] = field(default_factory=dict)  # serial -> device id
    sites: dict[str, int] = field(default_factory=dict)  # site name -> id

    def set_version(self, serial: str, version: str | None) -> None:
        """Make a device report ``version`` (None: no version)."""
        with transaction(self.rt.sessions) as session:
            session.execute(
                update(Device)
                .where(Device.device_id == self.devices[serial])
                .values(installed_version=version)
            )

    def rule_out(self, release_id: str) -> None:
        """A VEX statement: the release's openssl is not affected by Heartbleed."""
        with transaction(self.rt.sessions) as session:
            not_affected(
                session,
                self.world,
                self.releases[release_id],
                self.vulnerability_id,
                self.components[release_id],
                self.rt.clock.now(),
            )

    def assess(self, **kw: Any) -> None:
        """Record the manufacturer's assessment of Heartbleed."""
        with transaction(self.rt.sessions) as session:
            add_assessment(session, self.world, self.vulnerability_id, self.rt.clock.now(), **kw)


def _devices(session: Session, rt: Runtime, world: World, scene: Scene) -> None:
    a, b, main = world.hospital_a, world.hospital_b, world.site_a
    east = accounts.create_site(session, rt.audit, world.admin, a, "East Wing", "UTC").id
    icu = accounts.create_department(session, rt.audit, world.admin, main, "ICU").id
    scene.sites = {"Main Campus": main, "East Wing": east, "North": world.site_b}
    placed: list[tuple[str, int, str, str | None, dict[str, Any]]] = [
        ("A-1", a, "IP-100", "4.0.0", {"site_id": main, "department_id": icu}),
        ("A-2", a, "IP-100", "4.1.0", {"site_id": main, "is_test_device": True}),
        ("A-3", a, "IP-100", "4.1.0", {"site_id": east}),
        ("A-4", a, "IP-100", "4.2.0", {"site_id": main}),
        ("A-5", a, "IP-100", "4.1.0", {}),
        ("A-6", a, "VM-7", "1.0.0", {"site_id": east}),
        ("A-7", a, "IP-100", "1.0.0", {"site_id": east}),
        ("BAY-1", b, "IP-100", "4.1.0", {"site_id": world.site_b}),
        ("BAY-2", b, "IP-100", "4.0.0", {"site_id": world.site_b}),
        ("BAY-3", b, "IP-100", None, {"site_id": world.site_b}),
    ]
    for serial, org_id, model, version, where in placed:
        device = enrollment.register_device(
            session, rt.audit, world.admin, org_id=org_id, model=model,
            hardware_revision="B" if model == "IP-100" else "r1", serial=serial, **where,
        ).device  # fmt: skip
        device.installed_version = version
        scene.devices[serial] = device.device_id
    session.flush()


def build_scene(rt: Runtime) -> Scene:
    """The world and the Heartbleed fleet described in the module docstring."""
    world = build_world(rt)
    register_model(rt, world.admin, "VM-7", ("r1",), display_name="Ventilator")
    now = rt.clock.now()
    with transaction(rt.sessions) as session:
        vulnerability = add_vulnerability(session, HEARTBLEED, HEARTBLEED_ALIAS, now=now)
        scene = Scene(rt, world, vulnerability.id)
        for model, version, number, purl in [
            ("IP-100", "4.0.0", 400, VULNERABLE_OPENSSL),
            ("IP-100", "4.1.0", 410, VULNERABLE_OPENSSL),
            ("IP-100", "4.2.0", 420, FIXED_OPENSSL),
            ("VM-7", "1.0.0", 100, VULNERABLE_OPENSSL),
        ]:
            release = add_release(session, world, version, number, now, model=model)
            [openssl, _zlib] = add_sbom(session, world, release, purl, "pkg:generic/zlib@1.2.13")
            if purl == VULNERABLE_OPENSSL:
                add_finding(session, openssl, vulnerability, now)
            scene.releases[release.release_id] = release.id
            scene.components[release.release_id] = purl
        _devices(session, rt, world, scene)
    return scene


@pytest.fixture
def scene(runtime: Runtime) -> Scene:
    """The Heartbleed scene on the test runtime (SQLite and PostgreSQL)."""
    return build_scene(runtime)


def principal_named(world: World, username: str) -> Principal:
    """The world's principal with this user name."""
    by_name = {
        "root": world.admin, "eng": world.engineer, "qa": world.qa, "aud": world.auditor,
        "biomed.a": world.biomed_a, "admin.a": world.admin_a,
        "biomed.b": world.biomed_b, "admin.b": world.admin_b,
    }  # fmt: skip
    return by_name[username]
