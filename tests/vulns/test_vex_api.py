"""The VEX routes: statements, documents, exports; hospitals read released VEX and write nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from medfleet.api.app import create_app
from tests.api.helpers import TestClient, assert_problem, login
from tests.vulns.support_vex import (
    BUSYBOX,
    HEARTBLEED,
    OPENSSL_OLD,
    VexScene,
    add_release,
    fixture,
    scene,
    statements,
)

__all__ = ["scene"]
BASE = "/api/v1/vulns"
VEX = f"{BASE}/releases/IP-100/4.2.0/vex"
NOT_AFFECTED = {
    "vulnerability": HEARTBLEED,
    "state": "not_affected",
    "justification": "code_not_present",
    "responses": ["will_not_fix"],
    "detail": "Heartbeat compiled out.",
    "component": OPENSSL_OLD,
}


@pytest.fixture
def client(scene: VexScene) -> Iterator[TestClient]:
    with TestClient(create_app(scene.rt)) as test_client:
        yield test_client


def test_record_show_and_export(scene: VexScene, client: TestClient) -> None:
    engineer = login(client, "eng")
    created = client.post(VEX, json=NOT_AFFECTED, headers=engineer)
    assert created.status_code == 201, created.text
    assert created.json()["component"] == OPENSSL_OLD
    assert created.json()["exposure"] is False

    for who in ("eng", "aud", "biomed.a", "admin.b"):
        shown = client.get(VEX, headers=login(client, who))
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert [s["state"] for s in body["statements"]] == ["not_affected"]
        exposed = {f["vulnerability"]: f["exposed"] for f in body["findings"]}
        assert exposed[HEARTBLEED] is False
        assert exposed[BUSYBOX] is True
    history = client.get(VEX, params={"history": True, "vuln": HEARTBLEED}, headers=engineer)
    assert history.json()["history"] is True

    hospital = login(client, "biomed.a")
    cyclonedx = client.get(f"{VEX}/cyclonedx", headers=hospital)
    assert cyclonedx.status_code == 200
    assert cyclonedx.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cyclonedx.text) is None
    ids = {v["id"] for v in cyclonedx.json()["vulnerabilities"]}
    assert HEARTBLEED in ids
    assert BUSYBOX in ids
    trimmed = client.get(f"{VEX}/cyclonedx", params={"untriaged": False}, headers=hospital)
    assert {v["id"] for v in trimmed.json()["vulnerabilities"]} == {HEARTBLEED}
    openvex = client.get(f"{VEX}/openvex", headers=hospital)
    assert openvex.status_code == 200
    statuses = {s["vulnerability"]["name"]: s["status"] for s in openvex.json()["statements"]}
    assert statuses[HEARTBLEED] == "not_affected"


def test_import_document(scene: VexScene, client: TestClient) -> None:
    engineer = login(client, "eng")
    document = fixture("supplier-busybox.openvex.json")
    imported = client.post(f"{BASE}/vex-documents", json=document, headers=engineer)
    assert imported.status_code == 200, imported.text
    assert [a["state"] for a in imported.json()["applied"]] == ["not_affected"]
    again = client.post(f"{BASE}/vex-documents", json=document, headers=engineer)
    assert again.json()["applied"] == []
    broken = dict(document, statements=[])
    refused = client.post(f"{BASE}/vex-documents", json=broken, headers=engineer)
    assert "non-empty list of statements" in assert_problem(refused, 422)["detail"]


@pytest.mark.parametrize("who", ["biomed.a", "admin.a", "aud"])
def test_only_authors_write(scene: VexScene, client: TestClient, who: str) -> None:
    headers = login(client, who)
    assert_problem(client.post(VEX, json=NOT_AFFECTED, headers=headers), 403)
    document = fixture("supplier-busybox.openvex.json")
    assert_problem(client.post(f"{BASE}/vex-documents", json=document, headers=headers), 403)
    draft = f"{BASE}/releases/IP-100/5.0.0/vex"  # refused before the release is looked up
    assert_problem(client.post(draft, json=NOT_AFFECTED, headers=headers), 403)
    assert statements(scene.rt) == []


def test_drafts_are_not_found_for_hospitals(scene: VexScene, client: TestClient) -> None:
    add_release(scene.rt, scene.world, "5.0.0", released=False)
    draft = f"{BASE}/releases/IP-100/5.0.0/vex"
    hospital = login(client, "biomed.a")
    for path in (draft, f"{draft}/cyclonedx", f"{draft}/openvex"):
        assert_problem(client.get(path, headers=hospital), 404)
    assert client.get(draft, headers=login(client, "eng")).status_code == 200


def test_bad_statement_is_a_problem(scene: VexScene, client: TestClient) -> None:
    engineer = login(client, "eng")
    bad = dict(NOT_AFFECTED, justification=None, detail=None)
    assert (
        "justification or a detail"
        in assert_problem(client.post(VEX, json=bad, headers=engineer), 422)["detail"]
    )
    unknown = dict(NOT_AFFECTED, vulnerability="CVE-2099-0001")
    assert_problem(client.post(VEX, json=unknown, headers=engineer), 404)
    assert statements(scene.rt) == []
