"""POST /vulns/advisories, GET /vulns/vulnerabilities and /vulns/vulnerabilities/{id}."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from medfleet.api.app import create_app
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns.identity import resolve_vulnerability
from medfleet.vulns.tables import Advisory
from tests.api.helpers import TestClient, assert_problem, login
from tests.builders import World
from tests.vulns.support_advisory import document, world

__all__ = ["world"]
V = "/api/v1/vulns"


@pytest.fixture
def client(runtime: Runtime, world: World) -> Iterator[TestClient]:
    del world
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def _import(client: TestClient, user: str, fmt: str, documents: list[Any]) -> Any:
    return client.post(
        f"{V}/advisories",
        json={"format": fmt, "documents": documents},
        headers=login(client, user),
    )


def _load_all(client: TestClient) -> None:
    osv = [
        document(f"osv/{name}.json")
        for name in ("GHSA-j8r2-6x86-q33q", "GHSA-57m8-f3v5-hm5m", "DSA-2896-1", "CVE-2014-0160")
    ]
    nvd = [document(f"nvd/{name}.json") for name in ("CVE-2014-0160", "CVE-2023-32681")]
    assert _import(client, "eng", "osv", osv).status_code == 200
    assert _import(client, "eng", "nvd", nvd).status_code == 200


def test_import_then_reimport(client: TestClient) -> None:
    documents = [document("osv/GHSA-j8r2-6x86-q33q.json"), document("osv/DSA-2896-1.json")]
    first = _import(client, "eng", "osv", documents)
    assert first.status_code == 200, first.text
    assert (first.json()["created"], first.json()["vulnerabilities"]) == (
        2,
        ["CVE-2014-0160", "CVE-2023-32681"],
    )
    again = _import(client, "qa", "osv", documents).json()
    assert (again["created"], again["unchanged"]) == (0, 2)


def test_hospital_users_and_auditors_cannot_import(client: TestClient) -> None:
    for user in ("biomed.a", "admin.b", "aud"):
        response = _import(client, user, "osv", [document("osv/DSA-2896-1.json")])
        assert_problem(response, 403)
    listed = client.get(f"{V}/vulnerabilities", headers=login(client, "eng")).json()
    assert listed["total"] == 0


def test_invalid_documents_are_a_problem(client: TestClient) -> None:
    bad = document("osv/DSA-2896-1.json")
    bad["affected"][0]["ranges"][0]["events"] = [{"introduced": "0", "fixed": "1"}]
    body = assert_problem(_import(client, "eng", "osv", [bad]), 422)
    assert body["detail"].startswith("documents[0]: OSV record DSA-2896-1: affected[0]")
    wrong_format = client.post(
        f"{V}/advisories", json={"format": "csaf", "documents": [{}]}, headers=login(client, "eng")
    )
    assert wrong_format.status_code == 422


def test_list_filter_and_page(client: TestClient) -> None:
    _load_all(client)
    headers = login(client, "biomed.a")  # advisory content is public
    page = client.get(f"{V}/vulnerabilities", headers=headers).json()
    assert [item["key"] for item in page["items"]] == ["CVE-2023-32681", "CVE-2014-0160"]
    assert page["total"] == 2
    withdrawn = client.get(
        f"{V}/vulnerabilities", params={"include_withdrawn": True}, headers=headers
    ).json()
    assert {i["key"] for i in withdrawn["items"]} == {
        "CVE-2023-32681",
        "CVE-2023-4586",
        "CVE-2014-0160",
    }
    high = client.get(f"{V}/vulnerabilities", params={"severity": "high"}, headers=headers).json()
    assert [i["key"] for i in high["items"]] == ["CVE-2014-0160"]
    second = client.get(
        f"{V}/vulnerabilities", params={"limit": 1, "offset": 1}, headers=headers
    ).json()
    assert ([i["key"] for i in second["items"]], second["total"]) == (["CVE-2014-0160"], 2)
    assert (
        client.get(f"{V}/vulnerabilities", params={"severity": "dire"}, headers=headers).status_code
        == 422
    )


def test_show_by_any_alias(client: TestClient) -> None:
    _load_all(client)
    headers = login(client, "biomed.b")
    shown = client.get(f"{V}/vulnerabilities/GHSA-J8R2-6X86-Q33Q", headers=headers)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["key"] == "CVE-2023-32681"
    assert {(a["source"], a["source_id"]) for a in body["advisories"]} == {
        ("osv", "GHSA-j8r2-6x86-q33q"),
        ("nvd", "CVE-2023-32681"),
    }
    nvd = next(a for a in body["advisories"] if a["source"] == "nvd")
    assert {p["cpe_key"] for p in nvd["packages"]} == {"python:requests", "fedoraproject:fedora"}
    assert_problem(client.get(f"{V}/vulnerabilities/CVE-1999-0001", headers=headers), 404)
    assert_problem(client.get(f"{V}/vulnerabilities/not%20an%20id", headers=headers), 422)


def test_hospitals_see_only_public_sources(runtime: Runtime, client: TestClient) -> None:
    """A vulnerability known only from a manufacturer's own VEX document stays internal."""
    _load_all(client)
    with transaction(runtime.sessions) as session:
        now = runtime.clock.now()
        internal = resolve_vulnerability(session, ["ACME-2026-0001"], now, summary="internal")
        session.add(
            Advisory(
                source="cyclonedx-vex", source_id="ACME-2026-0001", vulnerability_id=internal.id,
                summary="internal finding", modified_at=now, withdrawn_at=None,
                content_sha256="0" * 64, document={}, imported_at=now,
            )
        )  # fmt: skip
    hospital, manufacturer = login(client, "biomed.a"), login(client, "eng")
    assert_problem(client.get(f"{V}/vulnerabilities/ACME-2026-0001", headers=hospital), 404)
    assert (
        client.get(f"{V}/vulnerabilities/ACME-2026-0001", headers=manufacturer).status_code == 200
    )
    keys = [i["key"] for i in client.get(f"{V}/vulnerabilities", headers=hospital).json()["items"]]
    assert "ACME-2026-0001" not in keys
    all_keys = client.get(f"{V}/vulnerabilities", headers=manufacturer).json()["items"]
    assert "ACME-2026-0001" in [i["key"] for i in all_keys]
