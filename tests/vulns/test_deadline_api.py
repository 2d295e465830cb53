"""The assessment, deadline, patch-policy and out-of-cycle campaign endpoints.

All are internal to the manufacturer: hospital staff get 403 problems.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from medfleet.api.app import create_app
from medfleet.clock import FrozenClock
from medfleet.runtime import Runtime
from medfleet.vulns.deadlines import DAY
from tests.api.helpers import TestClient, assert_problem, login
from tests.builders import World
from tests.rollouts.campaign_support import Camp, camp
from tests.vulns.support_deadline import (
    HEARTBLEED,
    HEARTBLEED_GHSA,
    clean_sbom,
    vulnerable_camp,
    world,
)

__all__ = ["camp", "vulnerable_camp", "world"]

V = "/api/v1/vulns"
ASSESSMENT = f"{V}/vulnerabilities/{HEARTBLEED}/assessment"
BODY = {"risk": "uncontrolled", "rationale": "Heap over-read over TLS heartbeat"}
CAMPAIGN = {"model": "IP-100", "version": "4.2.0"}


def client_for(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


@pytest.fixture
def client(runtime: Runtime, world: World) -> Iterator[TestClient]:
    """A client of an app on the test runtime, with the world in place."""
    yield from client_for(runtime)


def test_assess_read_and_list_deadlines(client: TestClient, clock: FrozenClock) -> None:
    eng, aud = login(client, "eng"), login(client, "aud")
    aware = clock.now() - 10 * DAY
    body = {**BODY, "critical": True, "aware_at": aware.isoformat(), "planned_fix": "4.2.0"}
    put = client.put(f"{V}/vulnerabilities/{HEARTBLEED_GHSA}/assessment", json=body, headers=eng)
    assert put.status_code == 200, put.text
    assessed = put.json()
    assert (assessed["vulnerability"], assessed["critical"]) == (HEARTBLEED, True)
    assert assessed["inform"]["due_at"] == (aware + 30 * DAY).isoformat()
    assert assessed["inform"]["days_left"] == 20
    assert client.get(ASSESSMENT, headers=aud).json() == assessed

    assert client.get(f"{V}/deadlines", params={"overdue": True}, headers=aud).json() == []
    clock.advance(21 * DAY)
    [overdue] = client.get(f"{V}/deadlines", params={"overdue": True}, headers=aud).json()
    assert (overdue["inform"]["state"], overdue["inform"]["days_overdue"]) == ("overdue", 1)
    assert overdue["fix"]["days_left"] == 29
    assert overdue["overdue"] is True
    assert [a["vulnerability"] for a in client.get(f"{V}/deadlines", headers=aud).json()] == [
        HEARTBLEED
    ]


def test_refusals_are_problems(client: TestClient, clock: FrozenClock) -> None:
    eng = login(client, "eng")
    assert_problem(client.get(ASSESSMENT, headers=eng), 404)  # not assessed yet
    assert client.put(ASSESSMENT, json=BODY, headers=eng).status_code == 200
    later = {**BODY, "aware_at": (clock.now() + DAY).isoformat()}
    assert_problem(client.put(ASSESSMENT, json=later, headers=eng), 422)  # in the future
    clock.advance(2 * DAY)
    later = {**BODY, "aware_at": (clock.now() - DAY).isoformat()}
    problem = assert_problem(client.put(ASSESSMENT, json=later, headers=eng), 409)
    assert "never later" in problem["detail"]
    assert_problem(client.put(ASSESSMENT, json={**BODY, "risk": "meh"}, headers=eng), 422)
    missing = f"{V}/vulnerabilities/CVE-2099-0001/assessment"
    assert_problem(client.put(missing, json=BODY, headers=eng), 404)
    gone = {**BODY, "fixed_release": {"model": "IP-100", "version": "9.9.9"}}
    assert_problem(client.put(ASSESSMENT, json=gone, headers=eng), 404)
    assert_problem(client.put(ASSESSMENT, json=BODY, headers=login(client, "aud")), 403)
    post = client.post(f"{V}/vulnerabilities/{HEARTBLEED}/campaign", json=CAMPAIGN, headers=eng)
    assert_problem(post, 403)  # engineers do not run campaigns
    root = login(client, "root")
    post = client.post(f"{V}/vulnerabilities/{HEARTBLEED}/campaign", json=CAMPAIGN, headers=root)
    assert "not assessed as critical" in assert_problem(post, 409)["detail"]


@pytest.mark.parametrize("username", ["admin.a", "biomed.b"])
def test_hospital_staff_get_403_everywhere(client: TestClient, username: str) -> None:
    assert client.put(ASSESSMENT, json=BODY, headers=login(client, "eng")).status_code == 200
    headers = login(client, username)
    for method, path, body in [
        ("GET", ASSESSMENT, None),
        ("PUT", ASSESSMENT, BODY),
        ("GET", f"{V}/deadlines", None),
        ("GET", f"{V}/patch-policy", None),
        ("PUT", f"{V}/patch-policy", {"routine_cycle_days": 30}),
        (
            "POST",
            f"{V}/vulnerabilities/{HEARTBLEED}/campaign",
            {"model": "IP-100", "version": "4.2.0"},
        ),
    ]:
        response = client.request(method, path, json=body, headers=headers)
        assert_problem(response, 403)


def test_patch_policy(client: TestClient) -> None:
    qa, aud = login(client, "qa"), login(client, "aud")
    assert client.get(f"{V}/patch-policy", headers=aud).json()["declared"] is False
    body = {"routine_cycle_days": 45, "inform_within_days": 10, "fix_within_days": 30}
    put = client.put(f"{V}/patch-policy", json=body, headers=qa)
    assert put.status_code == 200, put.text
    shown = client.get(f"{V}/patch-policy", headers=aud).json()
    assert {k: shown[k] for k in body} == body
    assert (shown["declared"], shown["updated_by"]) == (True, "qa")
    assert_problem(client.put(f"{V}/patch-policy", json=body, headers=aud), 403)
    loose = {**body, "inform_within_days": 45}
    assert_problem(client.put(f"{V}/patch-policy", json=loose, headers=qa), 422)


def test_post_campaign_starts_it(vulnerable_camp: Camp) -> None:
    camp = vulnerable_camp
    clean_sbom(camp)
    camp.device(camp.world.site_a)
    for client in client_for(camp.rt):
        body = {**BODY, "critical": True}
        assert client.put(ASSESSMENT, json=body, headers=login(client, "eng")).status_code == 200
        post = client.post(
            f"{V}/vulnerabilities/{HEARTBLEED}/campaign",
            json={"model": "IP-100", "version": "4.2.0", "name": "Heartbleed hotfix"},
            headers=login(client, "root"),
        )
        assert post.status_code == 201, post.text
        started = post.json()
        assert (started["campaign"], started["state"], started["urgency"]) == (
            "CMP-1",
            "running",
            "critical",
        )
    assert camp.show("CMP-1")["name"] == "Heartbleed hotfix"
