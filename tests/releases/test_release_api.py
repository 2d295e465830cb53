"""The releases API: the whole path over HTTP, 409 with ``missing``, bounded uploads, isolation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from medfleet.api.app import create_app
from medfleet.releases import routes
from medfleet.releases.tables import Release
from tests.api import probes_releases
from tests.api.helpers import TestClient, assert_problem, audit_count, count, login
from tests.api.isolation_support import Ctx
from tests.builders import PASSWORD
from tests.change_flow import passing_run, ready_change
from tests.releases.test_release_support import Env, env, firmware

__all__ = ["env"]

BASE = "/api/v1/releases"
ONE = f"{BASE}/IP-100/4.2.0"
NOTES = {
    "what_changed": "Occlusion alarm within 5 s.",
    "risk_summary": "No new hazards.",
    "downtime_minutes": 12,
    "compatibility": "Hardware revision B.",
}


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    """A client for an app on the test runtime, with the world and signing in place."""
    with TestClient(create_app(env.rt)) as test_client:
        yield test_client


def headers(client: TestClient, cache: dict[str, dict[str, str]], name: str) -> dict[str, str]:
    if name not in cache:
        cache[name] = login(client, name)
    return cache[name]


def draft(
    client: TestClient, eng: dict[str, str], env: Env, *, tested: bool = True
) -> dict[str, Any]:
    """A draft of 4.2.0 on build b-420 with CR-1, a change ready to be released; with
    ``tested``, a JUnit run of b-420 in which its requirement's test passed."""
    ready_change(env.rt, env.world, env.world.engineer, "Fix alarm")
    if tested:
        passing_run(env.rt, env.world, "b-420")
    created = client.post(
        BASE,
        json={
            "model": "IP-100",
            "version": "4.2.0",
            "version_number": 420,
            "build_id": "b-420",
            "hardware_revisions": ["B"],
            "notes": NOTES,
            "change_requests": ["CR-1"],
        },
        headers=eng,
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_draft_to_signed_target_over_http(env: Env, client: TestClient) -> None:
    tokens: dict[str, dict[str, str]] = {}
    eng, qa = headers(client, tokens, "eng"), headers(client, tokens, "qa")
    root = headers(client, tokens, "root")
    assert draft(client, eng, env)["state"] == "draft"
    uploaded = client.put(
        f"{ONE}/artifact", content=firmware(420), params={"filename": "ip100-4.2.0.img"},
        headers=eng,
    )  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["artifact"] == {
        "sha256": hashlib.sha256(firmware(420)).hexdigest(),
        "filename": "ip100-4.2.0.img",
        "length": len(firmware(420)),
    }
    sbom = client.put(
        f"{ONE}/sbom", content=b'{"bomFormat": "CycloneDX"}',
        params={"format": "cyclonedx-json"}, headers=eng,
    )  # fmt: skip
    assert sbom.json()["sbom"]["format"] == "cyclonedx-json"
    signed = client.post(
        f"{ONE}/signatures", json={"password": PASSWORD, "meaning": "authored"}, headers=eng
    )
    assert signed.status_code == 201, signed.text
    assert client.post(f"{ONE}/verify", headers=eng).json()["state"] == "verified"
    approved = client.post(f"{ONE}/approve", json={"password": PASSWORD}, headers=qa)
    assert approved.status_code == 200, approved.text

    key = client.post(f"{BASE}/signing/keys", json={"password": PASSWORD}, headers=qa)
    assert (key.status_code, key.json()["created"]) == (201, True)
    role = client.post(
        f"{BASE}/signing/models",
        json={
            "model": "IP-100",
            "holders": ["qa"],
            "password": PASSWORD,
            "holder_passwords": {"qa": PASSWORD},
        },
        headers=root,
    )
    assert role.status_code == 201, role.text
    released = client.post(f"{ONE}/release", json={"password": PASSWORD}, headers=qa)
    assert released.status_code == 200, released.text
    body = released.json()
    assert body["state"] == "released"
    assert body["signed_target"]["path"] == "IP-100/ip100-4.2.0.img"
    assert [line.split(" by ")[0] for line in body["signature_lines"]] == [
        "Authored",
        "Approved",
        "Released",
    ]
    assert env.distribution.image.image_target("IP-100/ip100-4.2.0.img") is not None
    listed = client.get(BASE, params={"model": "IP-100"}, headers=headers(client, tokens, "aud"))
    assert [r["state"] for r in listed.json()] == ["released"]


def test_refused_approval_is_409_with_every_missing_item(env: Env, client: TestClient) -> None:
    tokens: dict[str, dict[str, str]] = {}
    eng, qa = headers(client, tokens, "eng"), headers(client, tokens, "qa")
    draft(client, eng, env, tested=False)  # nothing of build b-420 was tested
    before = audit_count(env.rt)
    refused = client.post(f"{ONE}/approve", json={"password": PASSWORD}, headers=qa)
    body = assert_problem(refused, 409)
    assert [b["code"] for b in body["blockers"]] == [
        "state",
        "authored_signature",
        "artifact",
        "trace_gap",
    ]
    assert body["missing"][:3] == [
        "the release is draft; only a verified one is approved",
        "the author's 'authored' signature (eng) is missing",
        "no image artifact is attached",
    ]
    assert body["missing"][3:] == ["CR-1: SRS-100 has no linked test"]
    assert audit_count(env.rt) == before
    unverifiable = assert_problem(client.post(f"{ONE}/verify", headers=eng), 409)
    assert unverifiable["missing"] == ["no image artifact is attached (upload the image)"]
    wrong = client.post(f"{ONE}/approve", json={"password": "not the password"}, headers=qa)
    assert_problem(wrong, 401)
    assert client.get(ONE, headers=qa).json()["state"] == "draft"


def test_uploads_are_bounded_and_bad_names_refused(
    env: Env, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = login(client, "eng")
    draft(client, eng, env)
    monkeypatch.setattr(routes, "MAX_IMAGE_BYTES", 1000)
    too_big = client.put(
        f"{ONE}/artifact", content=b"x" * 1001, params={"filename": "a.img"}, headers=eng
    )
    assert "1000" in assert_problem(too_big, 422)["detail"]
    streamed = client.put(
        f"{ONE}/artifact",
        content=iter([b"x" * 600, b"y" * 600]),  # no Content-Length: chunked
        params={"filename": "a.img"},
        headers=eng,
    )
    assert_problem(streamed, 422)
    bad_name = client.put(
        f"{ONE}/artifact", content=b"x", params={"filename": "../a.img"}, headers=eng
    )
    assert "file name" in assert_problem(bad_name, 422)["detail"]
    assert client.get(ONE, headers=eng).json()["artifact"] is None
    stored = env.distribution.blobs.root / "sha256"
    assert not stored.exists() or not any(stored.rglob("*"))
    assert count(env.rt, Release.id) == 1


def test_edit_and_state_conflicts(env: Env, client: TestClient) -> None:
    eng = login(client, "eng")
    draft(client, eng, env)
    patched = client.patch(
        ONE, json={"min_from_version_number": 400, "notes": {"downtime_minutes": 3}}, headers=eng
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["min_from_version_number"], patched.json()["notes"]) == (
        400,
        {**NOTES, "downtime_minutes": 3},
    )
    cleared = client.patch(ONE, json={"min_from_version_number": None}, headers=eng)
    assert cleared.json()["min_from_version_number"] is None
    assert_problem(client.post(f"{ONE}/reopen", headers=eng), 409)
    duplicate = client.post(
        BASE, json={"model": "IP-100", "version": "4.2.0", "version_number": 421}, headers=eng
    )
    assert_problem(duplicate, 409)
    assert_problem(client.get(f"{BASE}/IP-100/9.9.9", headers=eng), 404)


@pytest.mark.parametrize("username", ["admin.a", "biomed.b"])
def test_hospital_staff_are_refused_by_every_release_probe(
    env: Env, client: TestClient, username: str
) -> None:
    probes_releases.create_objects(client, env.world)
    ctx = Ctx(client, env.world, login(client, username), 0, 0, "")
    before = (audit_count(env.rt), count(env.rt, Release.id))
    for (method, path), probes in probes_releases.PROBES.items():
        for call, expect in probes:
            response = call(ctx)
            expect(ctx, response)
            for secret in probes_releases.SECRETS:
                assert secret not in response.text, f"{method} {path} leaks {secret!r}"
    assert (audit_count(env.rt), count(env.rt, Release.id)) == before
