"""Reading findings and the matching use case: filters, aliases, permissions."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.vulns.errors import (
    FindingsReleaseNotFoundError,
    InvalidReleaseRefError,
    VulnerabilityNotFoundError,
    VulnsPermissionError,
)
from medfleet.vulns.findings import run_matching
from medfleet.vulns.findings_views import FindingView, list_findings, parse_release_ref
from medfleet.vulns.tables import Finding
from tests.vulns.support_findings import (
    CVE_2022_3602,
    EXPECTED,
    HEARTBLEED,
    Scene,
    add_release,
    add_sbom,
    openssl,
    scene,
)

__all__ = ["scene"]


def matched(scene: Scene) -> None:
    with transaction(scene.rt.sessions) as s:
        summary = run_matching(s, scene.rt.audit, scene.world.engineer)
    assert summary.scope_ids == [scene.release]
    assert summary.created == len(EXPECTED)


def listed(scene: Scene, who: Principal | None = None, **kw: object) -> list[FindingView]:
    with transaction(scene.rt.sessions) as s:
        return list_findings(s, who or scene.world.auditor, **kw)  # type: ignore[arg-type]


def test_findings_by_release_vulnerability_alias_and_activity(scene: Scene) -> None:
    matched(scene)
    rows = listed(scene)
    assert len(rows) == len(EXPECTED)
    assert [row.vulnerability for row in rows] == [HEARTBLEED] * 3 + [CVE_2022_3602] * 2
    document = rows[-1].as_dict()
    assert document["release"] == "IP-100/4.0.0"
    assert set(document) >= {"vulnerability", "component", "component_version", "purl", "cpe",
                             "matched_by", "reason", "advisory", "active"}  # fmt: skip
    for alias in ("DSA-2896-1", "cve-2014-0160"):
        assert {row.vulnerability for row in listed(scene, vulnerability=alias)} == {HEARTBLEED}
    assert listed(scene, model="IP-100", version="4.0.0", vulnerability=HEARTBLEED)
    with transaction(scene.rt.sessions) as s:
        other = add_release(s, scene.world, "4.2.0", 420, scene.rt.clock.now())
        add_sbom(s, scene.world, other, [openssl("1.0.1g")])
    assert listed(scene, model="IP-100", version="4.2.0") == []


def test_inactive_findings_only_on_request(scene: Scene) -> None:
    matched(scene)
    with transaction(scene.rt.sessions) as s:
        s.execute(update(Finding).values(active=False))
    assert listed(scene) == []
    everything = listed(scene, include_inactive=True)
    assert len(everything) == len(EXPECTED)
    assert not any(row.active for row in everything)


def test_hospitals_never_read_findings(scene: Scene) -> None:
    matched(scene)
    for who in (scene.world.admin_a, scene.world.biomed_b):
        with pytest.raises(VulnsPermissionError, match="manufacturer-internal"):
            listed(scene, who)


def test_unknown_release_vulnerability_and_malformed_references(scene: Scene) -> None:
    with pytest.raises(FindingsReleaseNotFoundError):
        listed(scene, model="IP-100", version="9.9.9")
    with pytest.raises(VulnerabilityNotFoundError):
        listed(scene, vulnerability="CVE-1999-0001")
    with pytest.raises(InvalidReleaseRefError):
        listed(scene, model="IP-100")
    assert parse_release_ref(" IP-100/4.0.0 ") == ("IP-100", "4.0.0")
    for bad in ("IP-100", "/4.0.0", "IP-100/", "a/b/c"):
        with pytest.raises(InvalidReleaseRefError):
            parse_release_ref(bad)


def test_only_engineers_qa_and_admins_run_matching(scene: Scene) -> None:
    for who in (scene.world.auditor, scene.world.admin_a):
        with transaction(scene.rt.sessions) as s, pytest.raises(VulnsPermissionError):
            run_matching(s, scene.rt.audit, who)
    with transaction(scene.rt.sessions) as s, pytest.raises(FindingsReleaseNotFoundError):
        run_matching(s, scene.rt.audit, scene.world.qa, model="IP-100", version="1.0.0")
    with transaction(scene.rt.sessions) as s:
        summary = run_matching(s, scene.rt.audit, scene.world.qa, model="IP-100", version="4.0.0")
    assert summary.created == len(EXPECTED)
