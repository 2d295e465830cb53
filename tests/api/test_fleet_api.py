"""The device registry over HTTP: register, enroll with the one-time token, list, show."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import ReportContent, StatusReport, sign_report
from medfleet.fleet.enrollment import key_id_of
from medfleet.signing.distribution import Distribution
from tests.api.helpers import TestClient, assert_problem
from tests.builders import World

KEY = bytes(range(32))  # any 32 bytes that decode as an Ed25519 point
DEVICE = {"model": "IP-100", "hardware_revision": "B", "serial": "SN 0001"}


def test_register_enroll_and_read_back(
    client: TestClient,
    world: World,
    auth: Callable[[str], dict[str, str]],
    distribution: Distribution,
) -> None:
    created = client.post(
        "/api/v1/devices", json={**DEVICE, "org_id": world.hospital_a}, headers=auth("root")
    )
    assert created.status_code == 201, created.text
    body = created.json()
    device_id, token = body["device_id"], body["enrollment_token"]
    assert body["enrolled_at"] is None
    assert token.startswith("mfe_")

    enrolled = client.post("/api/v1/enroll", json={"token": token, "public_key": KEY.hex()})
    assert enrolled.status_code == 200, enrolled.text
    answer = enrolled.json()
    assert answer["key_id"] == key_id_of(KEY)
    assert "enrollment_token" not in answer
    roots = distribution.enrollment_roots()
    assert base64.b64decode(answer["image_root"]) == roots.image_root
    assert base64.b64decode(answer["director_root"]) == roots.director_root
    assert answer["reports_url"] == f"/api/v1/devices/{device_id}/reports"
    # the repository tree is served from the base URL the device was given
    timestamp = f"{answer['repository_url']}director/{device_id}/metadata/timestamp.json"
    assert client.get(timestamp).json()["signed"]["_type"] == "timestamp"

    again = client.post("/api/v1/enroll", json={"token": token, "public_key": KEY.hex()})
    assert_problem(again, 401)

    shown = client.get(f"/api/v1/devices/{device_id}", headers=auth("biomed.a"))
    assert shown.status_code == 200, shown.text
    assert shown.json()["enrolled_at"] is not None
    listed = client.get("/api/v1/devices", headers=auth("biomed.a")).json()
    assert [d["device_id"] for d in listed] == [device_id]


def test_bad_input_is_a_problem_and_changes_nothing(
    client: TestClient, world: World, auth: Callable[[str], dict[str, str]]
) -> None:
    bad_model = client.post(
        "/api/v1/devices",
        json={**DEVICE, "model": "a/b", "org_id": world.hospital_a},
        headers=auth("root"),
    )
    assert "model" in assert_problem(bad_model, 422)["detail"]
    bad_key = client.post("/api/v1/enroll", json={"token": "mfe_x", "public_key": "zz" * 32})
    assert_problem(bad_key, 422)
    assert client.get("/api/v1/devices", headers=auth("root")).json() == []


def test_a_signed_report_over_http(
    client: TestClient,
    world: World,
    auth: Callable[[str], dict[str, str]],
    distribution: Distribution,
) -> None:
    identity = DeviceIdentity(Ed25519PrivateKey.generate())
    created = client.post(
        "/api/v1/devices", json={**DEVICE, "org_id": world.hospital_a}, headers=auth("root")
    ).json()
    device_id = created["device_id"]
    enrolled = client.post(
        "/api/v1/enroll",
        json={"token": created["enrollment_token"], "public_key": identity.public_key_bytes.hex()},
    )
    assert enrolled.status_code == 200, enrolled.text
    content = ReportContent("b", "4.3.0", 430, "idle", "committed", None, None)
    document = sign_report(StatusReport(device_id, 1, datetime.now(UTC), content), identity)
    url = f"/api/v1/devices/{device_id}/reports"
    headers = {"Content-Type": "application/json"}
    first = client.post(url, content=document, headers=headers)
    assert first.json() == {"device_id": device_id, "seq": 1, "duplicate": False}
    assert client.post(url, content=document, headers=headers).json()["duplicate"] is True
    tampered = document.replace(b'"4.3.0"', b'"4.4.0"')
    assert_problem(client.post(url, content=tampered, headers=headers), 403)
    shown = client.get(f"/api/v1/devices/{device_id}", headers=auth("biomed.a")).json()
    assert (shown["installed_version"], shown["last_report_seq"]) == ("4.3.0", 1)
