"""Findings in the database: matched, reconciled, idempotent, audited (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns.findings import match_releases, match_vulnerabilities
from medfleet.vulns.tables import Advisory, AdvisoryPackage, Finding
from tests.vulns.support_findings import (
    CVE_2022_3602,
    EXPECTED,
    HEARTBLEED,
    OPENSSL,
    OPENSSL_CPE,
    Part,
    Scene,
    add_advisory,
    add_release,
    add_sbom,
    add_vulnerability,
    findings,
    scene,
)

__all__ = ["scene"]


def match(scene: Scene, *, audited: bool = False) -> dict[str, int]:
    with transaction(scene.rt.sessions) as s:
        extra = {"audit": scene.rt.audit, "principal": scene.world.engineer} if audited else {}
        summary = match_releases(s, [scene.release], scene.rt.clock.now(), **extra)  # type: ignore[arg-type]
    return summary.as_dict()


def audit_events(rt: Runtime) -> int:
    with transaction(rt.sessions) as s:
        return (
            s.scalar(select(func.count()).where(AuditEventRow.action == "vulns.findings_matched"))
            or 0
        )


def test_heartbleed_and_cve_2022_3602_through_purl_and_cpe(scene: Scene) -> None:
    summary = match(scene)
    assert (summary["created"], summary["matched"], summary["skipped_count"]) == (5, 5, 0)
    found = findings(scene)
    assert {key: row.matched_by for key, row in found.items()} == EXPECTED
    now = scene.rt.clock.now()
    for row in found.values():
        assert (row.active, row.release_pk, row.first_matched_at, row.updated_at) == (
            True, scene.release, now, now,
        )  # fmt: skip
    assert found[(HEARTBLEED, "purl 1.0.1f")].reason == (
        f"{OPENSSL}@1.0.1f: 1.0.1f is in the range introduced 1.0.1, fixed 1.0.1g "
        f"({HEARTBLEED} via advisory OSV OSV-2014-0160)"
    )
    assert found[(HEARTBLEED, "purl 1.0.1f")].advisory_id == scene.osv_heartbleed
    assert found[(HEARTBLEED, "cpe 1.0.1f")].reason == (
        f"CPE {OPENSSL_CPE} 1.0.1f: version 1.0.1f is listed as affected "
        f"({HEARTBLEED} via advisory NVD {HEARTBLEED})"
    )
    assert found[(CVE_2022_3602, "cpe 3.0.6")].reason.startswith(
        f"CPE {OPENSSL_CPE} 3.0.6: 3.0.6 is in the range introduced 3.0.0, fixed 3.0.7"
    )


def test_a_second_run_writes_nothing_and_audits_nothing(scene: Scene, clock: FrozenClock) -> None:
    first = match(scene, audited=True)
    assert first["changed"]
    assert audit_events(scene.rt) == 1
    clock.advance(timedelta(hours=1))
    again = match(scene, audited=True)
    assert (again["matched"], again["changed"]) == (5, False)
    assert not any(again[k] for k in ("created", "updated", "reactivated", "deactivated"))
    assert audit_events(scene.rt) == 1
    assert {row.updated_at for row in findings(scene).values()} == {
        clock.now() - timedelta(hours=1)
    }


def test_the_audit_event_summarises_the_run(scene: Scene) -> None:
    match(scene, audited=True)
    with transaction(scene.rt.sessions) as s:
        event = s.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "vulns.findings_matched")
        ).one()
        assert (event.actor, event.object_type, event.object_id) == (
            "user:eng", "vuln_findings", "releases",
        )  # fmt: skip
        assert '"created":5' in event.doc
        assert f'"releases":[{scene.release}]' in event.doc


def withdraw(scene: Scene, advisory_id: int, withdrawn: bool = True) -> None:
    with transaction(scene.rt.sessions) as s:
        s.execute(
            update(Advisory)
            .where(Advisory.id == advisory_id)
            .values(withdrawn_at=scene.rt.clock.now() if withdrawn else None)
        )


def test_a_withdrawn_advisory_deactivates_and_a_restored_one_reactivates(
    scene: Scene, clock: FrozenClock
) -> None:
    match(scene)
    first_seen = clock.now()
    clock.advance(timedelta(days=1))
    withdraw(scene, scene.osv_heartbleed)
    with transaction(scene.rt.sessions) as s:
        summary = match_vulnerabilities(s, [scene.heartbleed], clock.now())
    assert (summary.deactivated, summary.created, summary.updated) == (2, 0, 0)
    gone = findings(scene, active=False)
    assert set(gone) == {(HEARTBLEED, "purl 1.0.1"), (HEARTBLEED, "purl 1.0.1f")}
    assert {row.updated_at for row in gone.values()} == {clock.now()}
    assert (HEARTBLEED, "cpe 1.0.1f") in findings(scene)  # NVD's advisory still stands
    clock.advance(timedelta(days=1))
    withdraw(scene, scene.osv_heartbleed, withdrawn=False)
    back = match(scene)
    assert (back["reactivated"], back["created"]) == (2, 0)
    again = findings(scene)
    assert again[(HEARTBLEED, "purl 1.0.1f")].first_matched_at == first_seen


def test_matching_a_new_advisory_over_every_sbom(scene: Scene) -> None:
    now = scene.rt.clock.now()
    with transaction(scene.rt.sessions) as s:
        other = add_release(s, scene.world, "4.1.0", 410, now)
        (busybox,) = add_sbom(
            s, scene.world, other, [Part("busybox", "1.35.0", "pkg:generic/busybox@1.35.0")]
        )
        vulnerability = add_vulnerability(s, "CVE-2022-48174", now=now)
        before_1_36 = [{"events": [{"introduced": "0"}, {"fixed": "1.36.0"}]}]
        add_advisory(
            s, vulnerability, now, [{"package_key": "pkg:generic/busybox", "ranges": before_1_36}]
        )
        summary = match_vulnerabilities(s, [vulnerability.id], now)
        assert (summary.created, summary.components) == (1, 2)  # 1.36.1 of 4.0.0 is not affected
        row = s.scalars(select(Finding)).one()
        assert (row.release_pk, row.component_id, row.matched_by) == (other.id, busybox.id, "purl")


def test_a_revised_advisory_updates_the_reason_and_keeps_the_first_match(
    scene: Scene, clock: FrozenClock
) -> None:
    match(scene)
    clock.advance(timedelta(days=2))
    with transaction(scene.rt.sessions) as s:
        s.execute(
            update(AdvisoryPackage)
            .where(AdvisoryPackage.advisory_id == scene.osv_heartbleed)
            .values(ranges=[{"events": [{"introduced": "1.0.1"}, {"last_affected": "1.0.1f"}]}])
        )
        summary = match_vulnerabilities(s, [scene.heartbleed], clock.now())
    assert (summary.updated, summary.created, summary.deactivated) == (2, 0, 0)
    row = findings(scene)[(HEARTBLEED, "purl 1.0.1f")]
    assert "introduced 1.0.1, last_affected 1.0.1f" in row.reason
    assert (row.first_matched_at, row.updated_at) == (clock.now() - timedelta(days=2), clock.now())


def test_what_cannot_be_decided_any_more_is_left_as_it_was(
    scene: Scene, clock: FrozenClock
) -> None:
    match(scene)
    clock.advance(timedelta(days=1))
    with transaction(scene.rt.sessions) as s:
        s.execute(
            update(AdvisoryPackage)
            .where(AdvisoryPackage.advisory_id == scene.osv_heartbleed)
            .values(ranges=[{"events": [{"introduced": "1.0.1"}, {"fixed": "not a version"}]}])
        )
        summary = match_releases(s, [scene.release], clock.now())
    assert not summary.changed
    assert {scene.names[skip.component_id] for skip in summary.skipped} == {
        "purl 1.0.0", "purl 1.0.1", "purl 1.0.1f", "purl 1.0.1g", "purl 3.0.0",
        "purl 3.0.7", "purl 1.1.1",
    }  # fmt: skip
    assert "fixed 'not a version' is not a valid Openssl version" in summary.skipped[0].reason
    assert set(findings(scene)) == set(EXPECTED)
