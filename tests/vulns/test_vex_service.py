"""VEX statements: who may record them, what is in force, and what still counts as exposure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.releases.errors import ReleaseNotFoundError
from medfleet.releases.tables import Release
from medfleet.vulns import vex, vex_service
from medfleet.vulns.errors import (
    InvalidVexError,
    VulnerabilityNotFoundError,
    VulnsPermissionError,
)
from medfleet.vulns.tables import VulnerabilityAlias
from tests.vulns.support_vex import (
    BUSYBOX,
    BUSYBOX_PURL,
    HEARTBLEED,
    OPENSSL_3,
    OPENSSL_OLD,
    VERSION,
    ZLIB,
    ZLIB_REF,
    VexScene,
    add_finding,
    add_release,
    add_sbom,
    scene,
    statements,
)

__all__ = ["scene"]


def exposed(scene: VexScene, key: str) -> list[int]:
    with transaction(scene.rt.sessions) as session:
        found = vex_service.exposed_findings(session, scene.vulnerabilities[key])
        return [finding.id for finding in found]


def later(scene: VexScene, minutes: int = 1) -> None:
    clock = scene.rt.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(minutes=minutes))


def test_without_statements_every_active_finding_is_exposed(scene: VexScene) -> None:
    for key, finding in scene.findings.items():
        assert exposed(scene, key) == [finding]


def test_an_inactive_finding_is_never_exposed(scene: VexScene) -> None:
    rt = scene.rt
    other = add_release(rt, scene.world, "4.3.0")
    components = add_sbom(rt, scene.world, other, serial=None)
    add_finding(
        rt, other, components["openssl-1.0.1f"], scene.vulnerabilities[HEARTBLEED], active=False
    )
    assert exposed(scene, HEARTBLEED) == [scene.findings[HEARTBLEED]]


@pytest.mark.parametrize(
    ("state", "fields", "counts"),
    [
        ("not_affected", {"justification": "code_not_present"}, False),
        ("false_positive", {"detail": "CPE matched the wrong product"}, False),
        ("resolved", {"detail": "patched in the BSP"}, False),
        ("resolved_with_pedigree", {"detail": "backported fix, see pedigree"}, False),
        ("exploitable", {"responses": ["update"]}, True),
        ("in_triage", {}, True),
    ],
)
def test_component_statement_decides_exposure(
    scene: VexScene, state: str, fields: dict[str, object], counts: bool
) -> None:
    statement = scene.record(vulnerability=HEARTBLEED, state=state, component=OPENSSL_OLD, **fields)
    assert statement.component_ref == OPENSSL_OLD
    assert exposed(scene, HEARTBLEED) == ([scene.findings[HEARTBLEED]] if counts else [])
    assert exposed(scene, OPENSSL_3) == [scene.findings[OPENSSL_3]]  # other vulnerabilities


def test_not_affected_keeps_its_justification_and_exploitable_brings_it_back(
    scene: VexScene,
) -> None:
    first = scene.record(
        vulnerability=HEARTBLEED, state="not_affected", justification="code_not_present",
        detail="Built with OPENSSL_NO_HEARTBEATS.", component=OPENSSL_OLD,
    )  # fmt: skip
    assert exposed(scene, HEARTBLEED) == []
    later(scene)
    scene.record(
        vulnerability=HEARTBLEED, state="exploitable", responses=["update"],
        detail="The heartbeat flag was dropped in the last build.", component=OPENSSL_OLD,
    )  # fmt: skip
    assert exposed(scene, HEARTBLEED) == [scene.findings[HEARTBLEED]]
    with transaction(scene.rt.sessions) as session:
        release = session.get_one(Release, scene.release_pk)
        history = vex_service.statement_history(session, release, scene.vulnerabilities[HEARTBLEED])
        assert [s.state for s in history] == ["exploitable", "not_affected"]
        assert history[1].id == first.id
        assert history[1].justification == "code_not_present"
        in_force = vex_service.statements_in_force(session, release)
        assert [s.state for s in in_force] == ["exploitable"]


def test_latest_statement_wins_by_statement_time_not_by_insertion(scene: VexScene) -> None:
    scene.record(vulnerability=BUSYBOX, state="in_triage", component=BUSYBOX_PURL)
    later(scene, 5)
    scene.record(
        vulnerability=BUSYBOX, state="not_affected", component=BUSYBOX_PURL,
        justification="code_not_reachable",
    )  # fmt: skip
    assert exposed(scene, BUSYBOX) == []
    with transaction(scene.rt.sessions) as session:  # an older statement recorded afterwards
        vex_service.add_statement(
            session,
            subject=(scene.release_pk, BUSYBOX_PURL, scene.vulnerabilities[BUSYBOX]),
            analysis=vex.check_analysis("exploitable", responses=["update"]),
            author="Old supplier document",
            author_user_id=None,
            source="openvex",
            stated_at=scene.rt.clock.now() - timedelta(days=30),
            recorded_at=scene.rt.clock.now(),
        )
    assert exposed(scene, BUSYBOX) == []


def test_component_statement_beats_release_wide_one(scene: VexScene) -> None:
    scene.record(vulnerability=HEARTBLEED, state="exploitable", component=OPENSSL_OLD, detail="x")
    later(scene)
    scene.record(
        vulnerability=HEARTBLEED, state="not_affected", justification="requires_configuration"
    )
    assert exposed(scene, HEARTBLEED) == [scene.findings[HEARTBLEED]]
    scene.record(vulnerability=ZLIB, state="resolved", detail="zlib patched in the BSP")
    assert exposed(scene, ZLIB) == []  # release-wide statement covers a bom-ref-only component


def test_a_component_without_purl_is_named_by_bom_ref(scene: VexScene) -> None:
    statement = scene.record(
        vulnerability=ZLIB, state="false_positive", detail="inflate only", component=ZLIB_REF
    )
    assert statement.component_ref == ZLIB_REF
    assert exposed(scene, ZLIB) == []


def test_bom_ref_of_a_purl_component_is_stored_as_its_purl(scene: VexScene) -> None:
    statement = scene.record(
        vulnerability=HEARTBLEED, state="resolved", detail="x", component="openssl-1.0.1f"
    )
    assert statement.component_ref == OPENSSL_OLD


def test_batch_form_agrees_with_single(scene: VexScene) -> None:
    scene.record(vulnerability=HEARTBLEED, state="resolved", detail="x", component=OPENSSL_OLD)
    ids = list(scene.vulnerabilities.values())
    with transaction(scene.rt.sessions) as session:
        batch = vex_service.exposed_findings_by_vulnerability(session, ids)
    assert {key: [f.id for f in batch[vid]] for key, vid in scene.vulnerabilities.items()} == {
        key: exposed(scene, key) for key in scene.vulnerabilities
    }
    assert batch[scene.vulnerabilities[HEARTBLEED]] == []


def test_statement_is_audited_with_its_author(scene: VexScene) -> None:
    statement = scene.record(
        vulnerability=HEARTBLEED, state="not_affected", justification="code_not_present",
        responses=["will_not_fix"], component=OPENSSL_OLD,
    )  # fmt: skip
    assert (statement.author, statement.author_user_id, statement.source) == (
        "Eve Engineer",
        scene.world.engineer.user_id,
        "manual",
    )
    with transaction(scene.rt.sessions) as session:
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "vex.statement_recorded")
        ).one()
        assert (event.object_type, event.object_id) == ("vex_statement", str(statement.id))
        assert f'"release":"IP-100-{VERSION}"' in event.doc
        assert '"justification":"code_not_present"' in event.doc


@pytest.mark.parametrize("who", ["qa", "admin"])
def test_qa_and_admin_may_record(scene: VexScene, who: str) -> None:
    principal = getattr(scene.world, who)
    assert scene.record(principal, vulnerability=HEARTBLEED, state="in_triage").author


@pytest.mark.parametrize("who", ["auditor", "biomed_a", "admin_b"])
def test_others_may_not_record(scene: VexScene, who: str) -> None:
    with pytest.raises(VulnsPermissionError):
        scene.record(getattr(scene.world, who), vulnerability=HEARTBLEED, state="in_triage")
    assert statements(scene.rt) == []


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"version": "9.9.9"}, ReleaseNotFoundError, "not found"),
        ({"vulnerability": "CVE-2099-0001"}, VulnerabilityNotFoundError, "CVE-2099-0001"),
        ({"component": "pkg:generic/openssl@9.9.9"}, InvalidVexError, "no component"),
        ({"state": "not_affected"}, InvalidVexError, "justification or a detail"),
    ],
)
def test_bad_input_changes_nothing(
    scene: VexScene, fields: dict[str, str], error: type[Exception], message: str
) -> None:
    fields = {"vulnerability": HEARTBLEED, "state": "in_triage", **fields}
    with pytest.raises(error, match=message):
        scene.record(**fields)
    assert statements(scene.rt) == []


def test_alias_names_the_same_vulnerability(scene: VexScene) -> None:
    with transaction(scene.rt.sessions) as session:
        session.add(
            VulnerabilityAlias(
                alias="DSA-2896-1", vulnerability_id=scene.vulnerabilities[HEARTBLEED]
            )
        )
    statement = scene.record(vulnerability="DSA-2896-1", state="resolved", detail="patched")
    assert statement.vulnerability_id == scene.vulnerabilities[HEARTBLEED]


def test_hospitals_read_only_released_releases(scene: VexScene) -> None:
    draft = add_release(scene.rt, scene.world, "5.0.0", released=False)
    with transaction(scene.rt.sessions) as session:
        assert vex_service.readable_release(session, scene.world.biomed_a, "IP-100", VERSION)
        with pytest.raises(ReleaseNotFoundError):
            vex_service.readable_release(session, scene.world.biomed_a, "IP-100", "5.0.0")
        assert (
            vex_service.readable_release(session, scene.world.auditor, "IP-100", "5.0.0").id
            == draft
        )
