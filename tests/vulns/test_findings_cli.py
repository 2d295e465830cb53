"""``medfleet vulns match`` / ``findings`` in-process, and their HTTP routes, on the scene."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from medfleet.api.app import create_app
from medfleet.cli.output import EXIT_DENIED, EXIT_INVALID, EXIT_NOT_FOUND
from tests.api.helpers import TestClient, assert_problem, audit_events, login
from tests.user_cli import run_as_user
from tests.vulns.support_findings import EXPECTED, HEARTBLEED, OPENSSL, Scene, scene

__all__ = ["scene"]
V = "/api/v1/vulns"


def run(scene: Scene, *args: str) -> tuple[int, Any, str]:
    return run_as_user(scene.rt.settings, *args)


def test_match_then_list_findings_on_the_command_line(scene: Scene) -> None:
    code, summary, out = run(scene, "vulns", "match", "--user", "eng", "--json")
    assert code == 0, out
    assert (summary["created"], summary["releases"]) == (len(EXPECTED), [scene.release])
    one = ("--release", "IP-100/4.0.0")
    code, again, out = run(scene, "vulns", "match", *one, "--user", "qa", "--json")
    assert code == 0, out
    assert (again["changed"], again["matched"]) == (False, len(EXPECTED))
    code, body, out = run(scene, "vulns", "findings", "--vuln", HEARTBLEED, "-u", "aud", "--json")
    assert code == 0, out
    rows = body["findings"]
    assert {(row["release"], row["purl"] or row["cpe"], row["matched_by"]) for row in rows} == {
        ("IP-100/4.0.0", f"{OPENSSL}@1.0.1", "purl"),
        ("IP-100/4.0.0", f"{OPENSSL}@1.0.1f", "purl"),
        ("IP-100/4.0.0", "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*", "cpe"),
    }
    assert all(row["reason"].endswith(")") and HEARTBLEED in row["reason"] for row in rows)
    code, _, out = run(scene, "vulns", "findings", "--release", "IP-100/4.0.0", "--user", "eng")
    assert code == 0, out
    assert "CVE-2022-3602  IP-100/4.0.0  openssl@3.0.6  by cpe" in out
    assert f"{OPENSSL}@1.0.1f: 1.0.1f is in the range introduced 1.0.1, fixed 1.0.1g" in out


def test_command_line_refusals(scene: Scene) -> None:
    assert run(scene, "vulns", "match", "--user", "aud")[0] == EXIT_DENIED
    assert run(scene, "vulns", "findings", "--user", "admin.a")[0] == EXIT_DENIED
    assert (
        run(scene, "vulns", "findings", "--release", "IP-100", "--user", "eng")[0] == EXIT_INVALID
    )
    code, _, out = run(scene, "vulns", "match", "--release", "IP-100/9.9", "--user", "eng")
    assert code == EXIT_NOT_FOUND, out
    code, _, out = run(scene, "vulns", "findings", "--user", "eng")
    assert (code, "no findings" in out) == (0, True)


@pytest.fixture
def client(scene: Scene) -> Iterator[TestClient]:
    with TestClient(create_app(scene.rt)) as test_client:
        yield test_client


def test_routes_match_and_list_for_the_manufacturer_only(scene: Scene, client: TestClient) -> None:
    engineer = login(client, "eng")
    response = client.post(f"{V}/match", json={}, headers=engineer)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == len(EXPECTED)
    assert len(audit_events(scene.rt, "vulns.findings_matched")) == 1
    one = client.post(
        f"{V}/match", json={"release_model": "IP-100", "release_version": "4.0.0"}, headers=engineer
    )
    assert one.json()["changed"] is False
    auditor = login(client, "aud")
    listed = client.get(f"{V}/findings", params={"vulnerability": "DSA-2896-1"}, headers=auditor)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == 3
    scoped = client.get(
        f"{V}/findings",
        params={"release_model": "IP-100", "release_version": "4.0.0", "include_inactive": True},
        headers=auditor,
    )
    assert len(scoped.json()) == len(EXPECTED)
    assert_problem(client.post(f"{V}/match", json={}, headers=auditor), 403)
    assert_problem(client.get(f"{V}/findings", headers=login(client, "biomed.a")), 403)
    missing = client.get(
        f"{V}/findings", params={"release_model": "IP-100", "release_version": "0"}, headers=auditor
    )
    assert_problem(missing, 404)
    assert_problem(
        client.get(f"{V}/findings", params={"vulnerability": "CVE-1-1"}, headers=auditor), 404
    )
