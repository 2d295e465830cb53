"""Importing advisories: created, idempotent re-import, updates, staleness, withdrawal, rights."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from medfleet.accounts.model import Principal
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns import advisories as advisories_module
from medfleet.vulns.advisories import IMPORTED_EVENT, matchable_packages
from medfleet.vulns.errors import VulnsPermissionError
from medfleet.vulns.tables import Advisory, AdvisoryPackage, Vulnerability
from tests.api.helpers import audit_count, audit_events
from tests.builders import World
from tests.vulns.support_advisory import (
    count_vulnerabilities,
    document,
    parse,
    parsed,
    run_import,
    vulnerability,
    world,
)

__all__ = ["world"]


def test_fixture_directory_import(runtime: Runtime, world: World) -> None:
    summary = run_import(runtime, world.engineer, parsed(""))
    assert (summary.created, summary.updated, summary.unchanged) == (10, 0, 0)
    assert summary.withdrawn == 2  # GHSA-57m8-f3v5-hm5m, and NVD's rejected CVE-2014-0346
    assert summary.merged == 0
    assert [i.reason for i in summary.ignored] == ["affected[1]: no package (git ranges only)"]
    heartbleed = vulnerability(runtime, "DSA-2896-1")
    assert heartbleed["row"].key == "CVE-2014-0160"
    assert heartbleed["aliases"] == {"CVE-2014-0160", "DSA-2896-1"}
    assert set(heartbleed["advisories"]) == {
        ("nvd", "CVE-2014-0160"),
        ("osv", "CVE-2014-0160"),
        ("osv", "DSA-2896-1"),
    }
    row = heartbleed["row"]
    assert (row.severity, row.cvss_score) == ("high", 7.5)  # NVD's score
    assert row.summary == "OpenSSL TLS/DTLS heartbeat read overrun (Heartbleed)"  # OSV's title
    assert row.published_at is not None
    assert row.published_at.year == 2014
    assert row.withdrawn_at is None
    spooky = vulnerability(runtime, "DEBIAN-CVE-2022-3602")
    assert spooky["row"].key == "CVE-2022-3602"
    assert len(spooky["advisories"]) == 3
    assert count_vulnerabilities(runtime) == 5


def test_reimport_changes_nothing_but_one_summary_event(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    run_import(runtime, world.engineer, parsed(""))
    before = _snapshot(runtime)
    events = audit_count(runtime)
    clock.advance(timedelta(days=3))
    again = run_import(runtime, world.qa, parsed(""))
    assert (again.created, again.updated, again.unchanged, again.withdrawn) == (0, 0, 10, 0)
    assert _snapshot(runtime) == before
    assert audit_count(runtime) == events + 1
    (event,) = audit_events(runtime, IMPORTED_EVENT)[-1:]
    assert event["payload"]["unchanged"] == 10
    assert event["payload"]["changed"] == []


def _snapshot(runtime: Runtime) -> list[Any]:
    with transaction(runtime.sessions) as session:
        advisories = [
            (a.source, a.source_id, a.imported_at, a.content_sha256, a.vulnerability_id)
            for a in session.scalars(select(Advisory).order_by(Advisory.id))
        ]
        vulns = [
            (v.id, v.key, v.summary, v.severity, v.cvss_score, v.modified_at, v.withdrawn_at)
            for v in session.scalars(select(Vulnerability).order_by(Vulnerability.id))
        ]
        packages = session.scalars(select(AdvisoryPackage.id).order_by(AdvisoryPackage.id))
        return [advisories, vulns, list(packages)]


def test_a_changed_record_replaces_its_packages(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    run_import(runtime, world.engineer, parsed("osv/GHSA-j8r2-6x86-q33q.json"))
    revised = document("osv/GHSA-j8r2-6x86-q33q.json")
    revised["modified"] = "2024-01-01T00:00:00Z"
    revised["affected"][0]["ranges"][0]["events"][1] = {"fixed": "2.32.0"}
    clock.advance(timedelta(days=1))
    summary = run_import(runtime, world.engineer, parse(revised))
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 0)
    with transaction(runtime.sessions) as session:
        (package,) = session.scalars(select(AdvisoryPackage)).all()
        assert package.ranges[0]["events"][1] == {"fixed": "2.32.0"}
        advisory = session.scalars(select(Advisory)).one()
        assert advisory.imported_at == clock.now()
        assert advisory.modified_at is not None
        assert advisory.modified_at.year == 2024
    assert vulnerability(runtime, "CVE-2023-32681")["row"].modified_at.year == 2024


def test_older_versions_and_duplicates_are_skipped(runtime: Runtime, world: World) -> None:
    newer = document("osv/GHSA-j8r2-6x86-q33q.json")
    older = document("osv/GHSA-j8r2-6x86-q33q.json")
    older["modified"] = "2023-05-23T00:00:00Z"
    older["summary"] = "an earlier wording"
    summary = run_import(runtime, world.engineer, parse([older, newer]))
    assert summary.created == 1
    assert [s.reason for s in summary.skipped] == ["a newer copy is in this import"]
    again = run_import(runtime, world.engineer, parse(older))
    assert again.updated == 0
    assert [(s.record, s.reason) for s in again.skipped] == [
        ("osv:GHSA-j8r2-6x86-q33q", "the stored version is newer")
    ]
    stored = vulnerability(runtime, "GHSA-j8r2-6x86-q33q")["row"]
    assert stored.summary == "Unintended leak of Proxy-Authorization header in requests"


def _live_packages(runtime: Runtime) -> set[str | None]:
    with transaction(runtime.sessions) as session:
        return {p.package_key for p in session.scalars(matchable_packages())}


def test_withdrawal_keeps_the_row_and_stops_matching(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    withdrawn = document("osv/GHSA-57m8-f3v5-hm5m.json")
    active = {k: v for k, v in withdrawn.items() if k != "withdrawn"}
    active["modified"] = "2023-10-05T00:00:00Z"
    run_import(runtime, world.engineer, parse(active))
    assert _live_packages(runtime) == {"pkg:maven/io.netty/netty-handler"}
    assert vulnerability(runtime, "CVE-2023-4586")["row"].withdrawn_at is None
    clock.advance(timedelta(days=30))
    summary = run_import(runtime, world.engineer, parse(withdrawn))
    assert (summary.updated, summary.withdrawn) == (1, 1)
    found = vulnerability(runtime, "CVE-2023-4586")
    advisory = found["advisories"][("osv", "GHSA-57m8-f3v5-hm5m")]
    assert advisory.withdrawn_at is not None
    assert found["row"].withdrawn_at == advisory.withdrawn_at
    assert _live_packages(runtime) == set()
    with transaction(runtime.sessions) as session:  # kept, only no longer matchable
        assert len(session.scalars(select(AdvisoryPackage)).all()) == 1


def test_a_vulnerability_is_withdrawn_only_when_all_its_advisories_are(
    runtime: Runtime, world: World
) -> None:
    ghsa = document("osv/GHSA-j8r2-6x86-q33q.json")
    nvd = document("nvd/CVE-2023-32681.json")
    run_import(runtime, world.engineer, [*parse(ghsa), *parse(nvd)])
    ghsa.update(withdrawn="2024-02-01T00:00:00Z", modified="2024-02-01T00:00:00Z")
    run_import(runtime, world.engineer, parse(ghsa))
    assert vulnerability(runtime, "CVE-2023-32681")["row"].withdrawn_at is None
    cve = nvd["vulnerabilities"][0]["cve"]
    cve.update(vulnStatus="Rejected", lastModified="2025-03-01T00:00:00")
    run_import(runtime, world.engineer, parse(nvd))
    row = vulnerability(runtime, "CVE-2023-32681")["row"]
    assert row.withdrawn_at is not None
    assert row.withdrawn_at.month == 3
    del ghsa["withdrawn"]
    ghsa["modified"] = "2024-04-01T00:00:00Z"
    run_import(runtime, world.engineer, parse(ghsa))
    assert vulnerability(runtime, "CVE-2023-32681")["row"].withdrawn_at is None


def test_matching_is_asked_for_the_touched_vulnerabilities(
    runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[int], str]] = []

    def record(_session: object, ids: Collection[int], _now: datetime, **audited: Any) -> None:
        assert audited["audit"] is runtime.audit  # matching is audited as the importer
        calls.append((sorted(ids), audited["principal"].username))

    monkeypatch.setattr(advisories_module, "match_vulnerabilities", record)
    run_import(runtime, world.engineer, parsed("osv/DSA-2896-1.json"))
    run_import(runtime, world.engineer, parsed("osv/DSA-2896-1.json"))
    heartbleed = vulnerability(runtime, "CVE-2014-0160")["row"].id
    assert calls == [([heartbleed], "eng"), ([], "eng")]


@pytest.mark.parametrize("who", ["biomed_a", "admin_a", "auditor"])
def test_only_manufacturer_engineers_qa_and_admins_import(
    runtime: Runtime, world: World, who: str
) -> None:
    principal: Principal = getattr(world, who)
    events = audit_count(runtime)
    with pytest.raises(VulnsPermissionError):
        run_import(runtime, principal, parsed("osv"))
    assert count_vulnerabilities(runtime) == 0
    assert audit_count(runtime) == events
    assert run_import(runtime, world.admin, parsed("osv")).created == 6


def test_the_summary_event_names_changed_records_and_a_digest(
    runtime: Runtime, world: World
) -> None:
    run_import(runtime, world.engineer, parsed("nvd"))
    (event,) = audit_events(runtime, IMPORTED_EVENT)
    payload = event["payload"]
    assert payload["records"] == 4
    assert payload["created"] == 4
    assert payload["changed"] == [
        "nvd:CVE-2014-0160",
        "nvd:CVE-2014-0346",
        "nvd:CVE-2022-3602",
        "nvd:CVE-2023-32681",
    ]
    assert event["object_id"] == payload["records_sha256"]
    assert event["actor"] == "user:eng"


def test_statements_stay_few_for_a_large_batch(runtime: Runtime, world: World) -> None:
    """No query per record: 1,500 records take a bounded number of statements."""
    records = [_synthetic(n) for n in range(1500)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = runtime.db
    event.listen(engine, "before_cursor_execute", count)
    try:
        summary = run_import(runtime, world.engineer, parse(records))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert summary.created == 1500
    assert len(statements) < 40, statements[:80]
    assert count_vulnerabilities(runtime) == 1500


def _synthetic(n: int) -> dict[str, Any]:
    return {
        "id": f"GHSA-{n:04d}-test-case",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": [f"CVE-2099-{n:05d}"],
        "summary": f"synthetic advisory {n}",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": f"package-{n}"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}
                ],
            }
        ],
        "database_specific": {"severity": "HIGH"},
    }
