"""Exposure to a vulnerability: releases, fixes, hospitals, sites, devices, and per-caller scope."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, update

from medfleet.db.engine import transaction
from medfleet.releases.tables import Release
from medfleet.vulns.errors import InvalidExposureRequestError, VulnerabilityNotFoundError
from medfleet.vulns.exposure import vulnerability_exposure
from medfleet.vulns.exposure_model import Exposure
from medfleet.vulns.exposure_render import exposure_dict
from medfleet.vulns.tables import Finding, Vulnerability
from medfleet.vulns.vex_service import exposed_findings
from tests.vulns.support_exposure import (
    FIXED_OPENSSL,
    HEARTBLEED,
    HEARTBLEED_ALIAS,
    VULNERABLE_OPENSSL,
    Scene,
    add_finding,
    add_release,
    add_sbom,
    principal_named,
    scene,
)

__all__ = ["scene"]


def exposure(scene: Scene, username: str, vuln: str = HEARTBLEED, **kw: Any) -> Exposure:
    with transaction(scene.rt.sessions) as session:
        return vulnerability_exposure(session, principal_named(scene.world, username), vuln, **kw)


def layout(found: Exposure) -> dict[str, dict[str | None, list[str]]]:
    """Hospital name -> site name -> serials of the listed devices."""
    return {
        h.name: {s.name: [d.serial for d in s.devices] for s in h.sites} for h in found.hospitals
    }


def release_counts(found: Exposure) -> dict[str, int]:
    return {release.release_id: release.device_count for release in found.releases}


def test_manufacturer_sees_every_hospital_site_and_device(scene: Scene) -> None:
    found = exposure(scene, "eng")
    assert found.vulnerability.key == HEARTBLEED
    assert found.vulnerability.aliases == (HEARTBLEED, HEARTBLEED_ALIAS)
    assert layout(found) == {
        "Bayview Medical Center": {"North": ["BAY-1", "BAY-2"]},
        "St. Anna Hospital": {
            "East Wing": ["A-3", "A-6"],
            "Main Campus": ["A-1", "A-2"],
            None: ["A-5"],
        },
    }
    counts = {h.name: (h.device_count, h.test_device_count) for h in found.hospitals}
    assert counts == {"Bayview Medical Center": (2, 0), "St. Anna Hospital": (5, 1)}
    assert (found.device_count, found.test_device_count, found.devices_listed) == (7, 1, 7)
    assert release_counts(found) == {"IP-100-4.0.0": 2, "IP-100-4.1.0": 4, "VM-7-1.0.0": 1}
    [component] = found.releases[0].components
    assert (component.name, component.version) == ("openssl", "1.0.1f")
    assert component.purl == VULNERABLE_OPENSSL
    assert component.cpe is not None
    assert "openssl:openssl:1.0.1f" in component.cpe
    assert "1.0.1g" in component.reason


def test_devices_carry_department_and_test_flag(scene: Scene) -> None:
    found = exposure(scene, "eng")
    devices = {d.serial: d for h in found.hospitals for s in h.sites for d in s.devices}
    assert devices["A-1"].department == "ICU"
    assert devices["A-1"].device_id == scene.devices["A-1"]
    assert (devices["A-2"].is_test_device, devices["A-3"].is_test_device) == (True, False)
    assert (devices["A-6"].model, devices["A-6"].installed_version) == ("VM-7", "1.0.0")
    main = next(s for h in found.hospitals for s in h.sites if s.name == "Main Campus")
    assert (main.id, main.device_count, main.test_device_count) == (
        scene.sites["Main Campus"],
        2,
        1,
    )


def test_an_alias_finds_the_same_exposure(scene: Scene) -> None:
    assert exposure_dict(exposure(scene, "eng", HEARTBLEED_ALIAS)) == exposure_dict(
        exposure(scene, "eng")
    )


def test_unknown_vulnerability_is_not_found(scene: Scene) -> None:
    with pytest.raises(VulnerabilityNotFoundError):
        exposure(scene, "eng", "CVE-2099-0001")


@pytest.mark.parametrize(
    ("username", "hospital", "serials", "releases"),
    [
        ("biomed.a", "St. Anna Hospital", {"A-1", "A-2", "A-3", "A-5", "A-6"},
         {"IP-100-4.0.0": 1, "IP-100-4.1.0": 3, "VM-7-1.0.0": 1}),
        ("admin.a", "St. Anna Hospital", {"A-1", "A-2", "A-3", "A-5", "A-6"},
         {"IP-100-4.0.0": 1, "IP-100-4.1.0": 3, "VM-7-1.0.0": 1}),
        ("biomed.b", "Bayview Medical Center", {"BAY-1", "BAY-2"},
         {"IP-100-4.0.0": 1, "IP-100-4.1.0": 1}),
        ("admin.b", "Bayview Medical Center", {"BAY-1", "BAY-2"},
         {"IP-100-4.0.0": 1, "IP-100-4.1.0": 1}),
    ],
)  # fmt: skip
def test_a_hospital_user_sees_only_its_own_hospital(
    scene: Scene, username: str, hospital: str, serials: set[str], releases: dict[str, int]
) -> None:
    scene.assess()
    found = exposure(scene, username)
    assert [h.name for h in found.hospitals] == [hospital]
    listed = {d.serial for h in found.hospitals for s in h.sites for d in s.devices}
    assert listed == serials
    assert found.device_count == len(serials)
    assert release_counts(found) == releases
    assert {f.model for f in found.fixed_releases} == {r.rsplit("-", 1)[0] for r in releases}
    document = exposure_dict(found)
    other = "Bayview" if hospital.startswith("St.") else "St. Anna"
    assert other not in str(document)
    assessment = document["assessment"]
    assert assessment["compensating_controls"].startswith("Block TCP 443")
    assert "rationale" not in assessment
    assert "fix_due_at" not in assessment


def test_a_hospital_without_exposed_devices_sees_nothing_of_it(scene: Scene) -> None:
    scene.set_version("BAY-1", "4.2.0")
    scene.set_version("BAY-2", "4.2.0")
    scene.assess()
    found = exposure(scene, "biomed.b")
    assert (found.hospitals, found.releases, found.fixed_releases) == ((), (), ())
    assert (found.device_count, found.assessment) == (0, None)
    assert exposure(scene, "eng").device_count == 5


def test_manufacturer_reads_the_whole_assessment(scene: Scene) -> None:
    assert exposure(scene, "eng").assessment is None
    scene.assess(critical=True)
    document = exposure_dict(exposure(scene, "aud"))["assessment"]
    assert (document["risk"], document["critical"]) == ("uncontrolled", True)
    assert document["planned_fix"] == "Update to IP-100 4.2.0."
    assert document["fix_due_at"] is not None
    assert document["customers_informed_at"] is None


def test_fixed_release_is_the_lowest_clean_released_one_above_every_affected(scene: Scene) -> None:
    now = scene.rt.clock.now()
    with transaction(scene.rt.sessions) as session:
        world = scene.world
        withdrawn = add_release(session, world, "4.1.5", 415, now, state="withdrawn")
        add_sbom(session, world, withdrawn, FIXED_OPENSSL)
        add_release(session, world, "4.1.7", 417, now)  # released, but no SBOM imported
        draft = add_release(session, world, "4.1.8", 418, now, state="draft")
        add_sbom(session, world, draft, FIXED_OPENSSL)
        add_sbom(session, world, add_release(session, world, "4.3.0", 430, now), FIXED_OPENSSL)
    fixes = {f.model: f for f in exposure(scene, "eng").fixed_releases}
    assert (fixes["IP-100"].release_id, fixes["IP-100"].highest_affected_version) == (
        "IP-100-4.2.0",
        "4.1.0",
    )
    assert (fixes["VM-7"].release_id, fixes["VM-7"].version) == (None, None)


def test_a_release_still_carrying_it_is_no_fix(scene: Scene) -> None:
    now = scene.rt.clock.now()
    with transaction(scene.rt.sessions) as session:
        world = scene.world
        vulnerable = add_release(session, world, "4.2.5", 425, now)
        [openssl] = add_sbom(session, world, vulnerable, VULNERABLE_OPENSSL)
        add_finding(session, openssl, session.get_one(Vulnerability, scene.vulnerability_id), now)
    fixes = {f.model: f for f in exposure(scene, "eng").fixed_releases}
    assert (fixes["IP-100"].release_id, fixes["IP-100"].highest_affected_version) == (None, "4.2.5")
    with transaction(scene.rt.sessions) as session:
        fixed = add_release(session, scene.world, "4.3.0", 430, now)
        add_sbom(session, scene.world, fixed, FIXED_OPENSSL)
    fixes = {f.model: f for f in exposure(scene, "eng").fixed_releases}
    assert fixes["IP-100"].release_id == "IP-100-4.3.0"


def test_inactive_findings_do_not_count(scene: Scene) -> None:
    with transaction(scene.rt.sessions) as session:
        session.execute(
            update(Finding)
            .where(Finding.release_pk == scene.releases["VM-7-1.0.0"])
            .values(active=False)
        )
    found = exposure(scene, "eng")
    assert "VM-7-1.0.0" not in release_counts(found)
    assert found.device_count == 6


def test_vex_not_affected_removes_a_release(scene: Scene) -> None:
    """Exposure applies VEX in force as ``vex_service.exposed_findings`` does (same releases)."""
    scene.rule_out("IP-100-4.0.0")
    found = exposure(scene, "eng")
    assert release_counts(found) == {"IP-100-4.1.0": 4, "VM-7-1.0.0": 1}
    serials = {d.serial for h in found.hospitals for s in h.sites for d in s.devices}
    assert not serials & {"A-1", "BAY-2"}
    assert found.device_count == 5
    with transaction(scene.rt.sessions) as session:
        counted = exposed_findings(session, scene.vulnerability_id)
        releases = session.scalars(
            select(Release).where(Release.id.in_({f.release_pk for f in counted}))
        )
        assert {r.release_id for r in releases} == {r.release_id for r in found.releases}


def test_device_limit_cuts_the_listing_not_the_counts(scene: Scene) -> None:
    found = exposure(scene, "eng", device_limit=3)
    assert (found.device_count, found.devices_listed, found.device_limit) == (7, 3, 3)
    listed = {d.serial for h in found.hospitals for s in h.sites for d in s.devices}
    assert listed == {"A-1", "BAY-2", "A-2"}  # release by release, then by registration
    assert sum(h.device_count for h in found.hospitals) == 7
    none = exposure(scene, "eng", device_limit=0)
    assert (none.device_count, none.devices_listed) == (7, 0)
    with pytest.raises(InvalidExposureRequestError):
        exposure(scene, "eng", device_limit=-1)


def test_a_vulnerability_without_findings_exposes_nothing(scene: Scene) -> None:
    with transaction(scene.rt.sessions) as session:
        session.execute(delete(Finding))
    found = exposure(scene, "eng")
    assert (found.releases, found.hospitals, found.fixed_releases, found.device_count) == (
        (),
        (),
        (),
        0,
    )
