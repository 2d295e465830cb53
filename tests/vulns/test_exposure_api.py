"""The exposure and notice routes: scoped per caller, problems for refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from medfleet.api.app import create_app
from tests.api.helpers import TestClient, assert_problem, login
from tests.vulns.support_exposure import HEARTBLEED, HEARTBLEED_ALIAS, Scene, scene

__all__ = ["scene"]
V = "/api/v1/vulns"


@pytest.fixture
def client(scene: Scene) -> Iterator[TestClient]:
    with TestClient(create_app(scene.rt)) as test_client:
        yield test_client


def test_exposure_is_scoped_per_caller(scene: Scene, client: TestClient) -> None:
    url = f"{V}/vulnerabilities/{HEARTBLEED_ALIAS}/exposure"
    everyone = client.get(url, headers=login(client, "aud"))
    assert everyone.status_code == 200, everyone.text
    body = everyone.json()
    assert body["vulnerability"]["key"] == HEARTBLEED
    assert [h["device_count"] for h in body["hospitals"]] == [2, 5]
    assert body["assessment"] is None

    mine = client.get(url, headers=login(client, "biomed.a"), params={"device_limit": 2})
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert [h["id"] for h in body["hospitals"]] == [scene.world.hospital_a]
    assert (body["device_count"], body["devices_listed"]) == (5, 2)
    assert "Bayview" not in mine.text
    assert "BAY-" not in mine.text

    assert_problem(
        client.get(url, headers=login(client, "biomed.a"), params={"device_limit": -1}), 422
    )
    assert_problem(
        client.get(f"{V}/vulnerabilities/CVE-2099-1/exposure", headers=login(client, "eng")), 404
    )


def test_notices_over_http(scene: Scene, client: TestClient) -> None:
    eng, biomed_a = login(client, "eng"), login(client, "biomed.a")
    issue_url = f"{V}/vulnerabilities/{HEARTBLEED}/notices"
    assert_problem(client.post(issue_url, headers=eng), 409)
    scene.assess()
    assert_problem(client.post(issue_url, headers=biomed_a), 403)
    issued = client.post(issue_url, headers=eng)
    assert issued.status_code == 200, issued.text
    ids = {n["hospital"]: n["id"] for n in issued.json()["issued"]}
    a_id, b_id = ids["St. Anna Hospital"], ids["Bayview Medical Center"]

    mine = client.get(f"{V}/notices", headers=biomed_a)
    assert [n["id"] for n in mine.json()] == [a_id]
    shown = client.get(f"{V}/notices/{a_id}", headers=biomed_a)
    assert shown.status_code == 200, shown.text
    assert shown.json()["content"]["compensating_controls"].startswith("Block TCP 443")
    assert_problem(client.get(f"{V}/notices/{b_id}", headers=biomed_a), 404)
    assert_problem(client.post(f"{V}/notices/{b_id}/acknowledge", headers=biomed_a), 404)
    assert_problem(client.post(f"{V}/notices/{a_id}/acknowledge", headers=eng), 403)

    acked = client.post(f"{V}/notices/{a_id}/acknowledge", headers=biomed_a)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == "biomed.a"
    every = {
        n["id"]: n["acknowledged_at"] is not None
        for n in client.get(f"{V}/notices", headers=eng).json()
    }
    assert every == {a_id: True, b_id: False}
