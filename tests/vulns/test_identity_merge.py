"""A CVE and its GHSA are one vulnerability, whichever comes first; bridging records merge.

Merging moves everything that names the merged-away vulnerability: aliases, advisories,
findings (dropping duplicates), VEX statements, assessments (the earlier awareness wins) with
their deadline alerts, and hospital notices (renumbered per hospital).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns.errors import VulnerabilityMergeError
from medfleet.vulns.identity import resolve_vulnerability
from medfleet.vulns.identity_merge import MERGED_EVENT
from medfleet.vulns.tables import (
    DeadlineAlert,
    Finding,
    HospitalNotice,
    VexStatement,
    VulnAssessment,
    Vulnerability,
)
from tests.api.helpers import audit_events
from tests.builders import World
from tests.vulns.support_advisory import (
    add_component,
    add_release,
    count_vulnerabilities,
    document,
    parse,
    run_import,
    vulnerability,
    world,
)

__all__ = ["world"]
CVE, GHSA = "CVE-2023-32681", "GHSA-j8r2-6x86-q33q"
BOTH = {
    ("osv", GHSA),
    ("nvd", CVE),
}


def _ghsa() -> Any:
    return parse(document(f"osv/{GHSA}.json"))


def _nvd() -> Any:
    return parse(document(f"nvd/{CVE}.json"))


@pytest.mark.parametrize("order", ["ghsa_first", "nvd_first", "one_batch"])
def test_a_cve_and_its_ghsa_are_one_vulnerability(
    runtime: Runtime, world: World, order: str
) -> None:
    if order == "ghsa_first":
        summaries = [run_import(runtime, world.engineer, _ghsa())]
        summaries.append(run_import(runtime, world.engineer, _nvd()))
    elif order == "nvd_first":
        summaries = [run_import(runtime, world.engineer, _nvd())]
        summaries.append(run_import(runtime, world.engineer, _ghsa()))
    else:
        summaries = [run_import(runtime, world.engineer, [*_ghsa(), *_nvd()])]
    assert sum(s.created for s in summaries) == 2
    assert sum(s.merged for s in summaries) == 0
    assert count_vulnerabilities(runtime) == 1
    for alias in (CVE, GHSA):
        found = vulnerability(runtime, alias)
        assert found["row"].key == CVE
        assert found["aliases"] == {CVE, GHSA}
        assert set(found["advisories"]) == BOTH
    row = vulnerability(runtime, CVE)["row"]
    assert (row.severity, row.cvss_score) == ("medium", 6.1)  # NVD's score
    assert row.summary == "Unintended leak of Proxy-Authorization header in requests"  # GHSA's


def _pysec() -> Any:
    """A PyPA record of the same issue that (here) names no alias, so it starts on its own."""
    return parse(
        {
            "id": "PYSEC-2023-74",
            "modified": "2023-06-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "requests"},
                    "ranges": [
                        {
                            "type": "ECOSYSTEM",
                            "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}],
                        }
                    ],
                }
            ],
        }
    )


def test_a_third_record_bridges_two_vulnerabilities(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    run_import(runtime, world.engineer, _nvd())
    clock.advance(timedelta(hours=1))
    run_import(runtime, world.engineer, _pysec())
    assert count_vulnerabilities(runtime) == 2
    bridge = document(f"osv/{GHSA}.json")
    bridge["aliases"] = [CVE, "PYSEC-2023-74"]
    summary = run_import(runtime, world.qa, parse(bridge))
    assert (summary.created, summary.merged) == (1, 1)
    assert count_vulnerabilities(runtime) == 1
    merged = vulnerability(runtime, "PYSEC-2023-74")
    assert merged["row"].key == CVE
    assert merged["aliases"] == {CVE, GHSA, "PYSEC-2023-74"}
    assert set(merged["advisories"]) == {*BOTH, ("osv", "PYSEC-2023-74")}
    (event,) = audit_events(runtime, MERGED_EVENT)
    assert (event["object_id"], event["actor"]) == (CVE, "user:qa")
    assert event["payload"]["merged"] == ["PYSEC-2023-74"]


def test_without_a_cve_the_oldest_survives_and_takes_the_cve_key(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    def record(osv_id: str, aliases: list[str]) -> Any:
        return parse({"id": osv_id, "modified": "2024-01-01T00:00:00Z", "aliases": aliases})

    run_import(runtime, world.engineer, record("OSV-2024-2", []))
    clock.advance(timedelta(days=1))
    run_import(runtime, world.engineer, record("OSV-2024-1", []))
    oldest = vulnerability(runtime, "OSV-2024-2")["row"].id
    summary = run_import(
        runtime,
        world.engineer,
        record("GHSA-zzzz-yyyy-xxxx", ["OSV-2024-1", "OSV-2024-2", "CVE-2024-9999"]),
    )
    assert summary.merged == 1
    survivor = vulnerability(runtime, "OSV-2024-1")["row"]
    assert (survivor.id, survivor.key) == (oldest, "CVE-2024-9999")


def test_merging_needs_an_audited_caller(runtime: Runtime, world: World) -> None:
    run_import(runtime, world.engineer, _nvd())
    run_import(runtime, world.engineer, _pysec())
    with (
        transaction(runtime.sessions) as session,
        pytest.raises(VulnerabilityMergeError, match="name several vulnerabilities"),
    ):
        resolve_vulnerability(session, [CVE, "PYSEC-2023-74"], runtime.clock.now())
    with transaction(runtime.sessions) as session:
        created = resolve_vulnerability(
            session, ["CVE-2031-0001"], runtime.clock.now(), summary="from a VEX document"
        )
        assert (created.key, created.summary) == ("CVE-2031-0001", "from a VEX document")


def _rows(
    runtime: Runtime, world: World, vuln: dict[str, int], t: list[datetime]
) -> dict[str, Any]:
    """Findings, VEX, assessments, alerts and notices on both vulnerabilities."""
    r1, r2 = add_release(runtime, world, "4.2.0", t[0]), add_release(runtime, world, "4.3.0", t[0])
    c1, c2 = add_component(runtime, world, r1, t[0]), add_component(runtime, world, r2, t[0])
    ids: dict[str, Any] = {}
    with transaction(runtime.sessions) as s:

        def finding(v: int, release: int, component: int, at: datetime, active: bool) -> Finding:
            row = Finding(
                release_pk=release, component_id=component, vulnerability_id=v, advisory_id=None,
                matched_by="purl", reason="test", active=active, first_matched_at=at, updated_at=at,
            )  # fmt: skip
            s.add(row)
            return row

        def assessment(v: int, aware: datetime) -> VulnAssessment:
            row = VulnAssessment(
                org_id=world.engineer.org_id, vulnerability_id=v, risk="uncontrolled",
                critical=False, rationale="", compensating_controls="", planned_fix="",
                fixed_release_pk=None, aware_at=aware, inform_due_at=aware + timedelta(days=30),
                fix_due_at=aware + timedelta(days=60), customers_informed_at=None,
                fix_distributed_at=None, assessed_by=world.engineer.user_id, assessed_at=aware,
            )  # fmt: skip
            s.add(row)
            return row

        def notice(v: int, org: int, revision: int, at: datetime) -> HospitalNotice:
            row = HospitalNotice(
                vulnerability_id=v, org_id=org, revision=revision, content={"at": at.isoformat()},
                issued_by=world.engineer.user_id, issued_at=at,
            )  # fmt: skip
            s.add(row)
            return row

        kept_finding = finding(vuln["cve"], r1, c1, t[2], active=False)
        finding(vuln["pysec"], r1, c1, t[1], active=True)
        moved_finding = finding(vuln["pysec"], r2, c2, t[1], active=True)
        s.add(
            VexStatement(
                release_pk=r1, component_ref="pkg:generic/openssl@1.0.1f",
                vulnerability_id=vuln["pysec"], state="not_affected",
                justification="code_not_reachable", responses=[], detail="", author="eng",
                author_user_id=world.engineer.user_id, source="manual", stated_at=t[1],
                recorded_at=t[1],
            )
        )  # fmt: skip
        late = assessment(vuln["cve"], t[2])
        early = assessment(vuln["pysec"], t[1])
        s.flush()
        s.add(DeadlineAlert(assessment_id=late.id, kind="inform", due_at=t[2], raised_at=t[3]))
        s.add(DeadlineAlert(assessment_id=early.id, kind="fix", due_at=t[2], raised_at=t[3]))
        last = notice(vuln["cve"], world.hospital_a, 1, t[3])
        first = notice(vuln["pysec"], world.hospital_a, 1, t[1])
        second = notice(vuln["pysec"], world.hospital_a, 2, t[2])
        only_b = notice(vuln["pysec"], world.hospital_b, 1, t[1])
        s.flush()
        ids.update(
            kept_finding=kept_finding.id, moved_finding=moved_finding.id, early=early.id,
            late=late.id, notices=[first.id, second.id, last.id], only_b=only_b.id,
        )  # fmt: skip
    return ids


def test_merging_carries_findings_vex_assessments_and_notices(
    runtime: Runtime, world: World
) -> None:
    now = runtime.clock.now()
    t = [now - timedelta(days=d) for d in (40, 30, 20, 10)]
    run_import(runtime, world.engineer, _nvd())
    run_import(runtime, world.engineer, _pysec())
    vuln = {
        "cve": vulnerability(runtime, CVE)["row"].id,
        "pysec": vulnerability(runtime, "PYSEC-2023-74")["row"].id,
    }
    ids = _rows(runtime, world, vuln, t)
    with transaction(runtime.sessions) as session:
        survivor = resolve_vulnerability(
            session, [GHSA, CVE, "PYSEC-2023-74"], now, audit=runtime.audit, principal=world.qa
        )
        assert survivor.id == vuln["cve"]
    with transaction(runtime.sessions) as s:
        assert s.get(Vulnerability, vuln["pysec"]) is None
        findings = {f.id: f for f in s.scalars(select(Finding))}
        assert set(findings) == {ids["kept_finding"], ids["moved_finding"]}
        kept = findings[ids["kept_finding"]]
        assert (kept.vulnerability_id, kept.active, kept.first_matched_at) == (
            vuln["cve"],
            True,
            t[1],
        )
        assert findings[ids["moved_finding"]].vulnerability_id == vuln["cve"]
        assert [v.vulnerability_id for v in s.scalars(select(VexStatement))] == [vuln["cve"]]
        (assessment,) = s.scalars(select(VulnAssessment)).all()
        assert (assessment.id, assessment.vulnerability_id) == (ids["early"], vuln["cve"])
        alerts = {(a.assessment_id, a.kind) for a in s.scalars(select(DeadlineAlert))}
        assert alerts == {(ids["early"], "inform"), (ids["early"], "fix")}
        notices = {n.id: n for n in s.scalars(select(HospitalNotice))}
        assert [notices[i].revision for i in ids["notices"]] == [1, 2, 3]
        assert {n.vulnerability_id for n in notices.values()} == {vuln["cve"]}
        assert notices[ids["only_b"]].revision == 1
    (event,) = audit_events(runtime, MERGED_EVENT)
    payload = event["payload"]
    assert payload["findings_dropped"] == 1
    assert payload["notices_moved"] == 4  # three of A renumbered, B's one repointed
    (decision,) = payload["assessments"]
    assert decision["kept_assessment"] == ids["early"]
    assert decision["dropped_assessment"] == ids["late"]
    assert decision["reason"] == "the earlier awareness date is kept"
