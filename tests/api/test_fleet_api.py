"""The device registry over HTTP: the catalogue, register (one or from CSV), enroll with the
one-time token, list with filters, show, edit, version history, FHIR export."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B

from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import ReportContent, StatusReport, sign_report
from medfleet.db.engine import transaction
from medfleet.fleet.enrollment import get_device, key_id_of
from medfleet.fleet.history import record_reported_version
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from tests.api.helpers import TestClient, assert_problem
from tests.builders import MODEL_GTIN, World

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


def test_the_catalogue_over_http(
    client: TestClient, world: World, auth: Callable[[str], dict[str, str]]
) -> None:
    listed = client.get("/api/v1/device-models", headers=auth("biomed.a"))
    assert listed.status_code == 200, listed.text
    [ip100] = listed.json()
    assert (ip100["name"], ip100["gtin"], ip100["image_kind"]) == ("IP-100", MODEL_GTIN, "firmware")
    assert [r["name"] for r in ip100["hardware_revisions"]] == ["A", "B", "C"]
    new = {"name": "VM-7", "display_name": "Ventilator", "gtin": "9506000134369"}
    created = client.post("/api/v1/device-models", json=new, headers=auth("eng"))
    assert created.status_code == 201, created.text
    assert created.json()["gtin"] == "09506000134369"
    assert_problem(client.post("/api/v1/device-models", json=new, headers=auth("eng")), 409)
    refused = client.post(
        "/api/v1/device-models", json={**new, "name": "VM-8"}, headers=auth("admin.a")
    )
    assert_problem(refused, 403)
    bad = client.post(
        "/api/v1/device-models",
        json={"name": "VM-9", "display_name": "x", "gtin": "09506000134353"},
        headers=auth("root"),
    )
    assert "bad check digit (expected 2)" in assert_problem(bad, 422)["detail"]
    revision = client.post(
        "/api/v1/device-models/VM-7/revisions",
        json={"name": "r1", "description": "first board"},
        headers=auth("eng"),
    )
    assert revision.status_code == 201, revision.text
    assert revision.json()["hardware_revisions"][0]["description"] == "first board"
    patched = client.patch(
        "/api/v1/device-models/VM-7",
        json={"supported_from_version_number": 300},
        headers=auth("root"),
    )
    assert patched.json()["supported_from_version_number"] == 300
    shown = client.get("/api/v1/device-models/VM-7", headers=auth("admin.b")).json()
    assert (shown["supported_from_version_number"], len(shown["hardware_revisions"])) == (300, 1)
    assert_problem(client.get("/api/v1/device-models/VM-0", headers=auth("root")), 404)


def test_register_edit_and_filter_devices(
    client: TestClient, world: World, auth: Callable[[str], dict[str, str]]
) -> None:
    icu = client.post(
        f"/api/v1/sites/{world.site_a}/departments", json={"name": "ICU"}, headers=auth("root")
    ).json()["id"]
    created = client.post(
        "/api/v1/devices",
        json={
            **DEVICE,
            "serial": "SN-7",
            "org_id": world.hospital_a,
            "site_id": world.site_a,
            "department_id": icu,
            "tags": ["loaner"],
            "udi": f"(01){MODEL_GTIN}(10)L1(21)SN-7",
        },
        headers=auth("root"),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    device_id = body["device_id"]
    assert (body["site_name"], body["department_name"], body["udi_lot"]) == (
        "Main Campus", "ICU", "L1",
    )  # fmt: skip
    assert (body["is_test_device"], body["tags"], body["in_clinical_use"]) == (
        False, ["loaner"], None,
    )  # fmt: skip
    for bad, message in (
        ({"model": "IP-200"}, "not in the catalogue"),
        ({"hardware_revision": "Z"}, "no hardware revision 'Z'"),
        ({"site_id": world.site_b}, "is not a site of St. Anna Hospital"),
        ({"udi": f"(01){MODEL_GTIN}(21)OTHER"}, "is not the device's serial"),
        ({"colour": "red"}, "colour"),
    ):
        response = client.post(
            "/api/v1/devices",
            json={**DEVICE, "serial": "SN-8", "org_id": world.hospital_a, **bad},
            headers=auth("root"),
        )
        assert message in response.text, response.text
        assert_problem(response, 422)

    url = f"/api/v1/devices/{device_id}"
    patched = client.patch(url, json={"is_test_device": True}, headers=auth("biomed.a"))
    assert patched.status_code == 200, patched.text
    assert (patched.json()["is_test_device"], patched.json()["department_id"]) == (True, icu)
    cleared = client.patch(url, json={"site_id": None, "tags": []}, headers=auth("admin.a"))
    assert (cleared.json()["site_id"], cleared.json()["tags"]) == (None, [])
    assert_problem(client.patch(url, json={"tags": ["x"]}, headers=auth("admin.b")), 404)
    assert_problem(client.patch(url, json={"tags": ["x"]}, headers=auth("eng")), 403)
    assert_problem(client.patch(url, json={"serial": "X"}, headers=auth("root")), 422)

    def found(username: str, **params: object) -> list[str]:
        response = client.get("/api/v1/devices", params=params, headers=auth(username))
        assert response.status_code == 200, response.text
        return [d["device_id"] for d in response.json()]

    assert found("root", test_only=True) == [device_id]
    assert found("root", org_id=world.hospital_b) == []
    assert found("root", model="IP-100", org_id=world.hospital_a) == [device_id]
    assert found("biomed.b") == []


def test_version_history_over_http(
    client: TestClient,
    world: World,
    runtime: Runtime,
    auth: Callable[[str], dict[str, str]],
) -> None:
    device_id = client.post(
        "/api/v1/devices", json={**DEVICE, "org_id": world.hospital_a}, headers=auth("root")
    ).json()["device_id"]
    url = f"/api/v1/devices/{device_id}/versions"
    assert client.get(url, headers=auth("biomed.a")).json() == []
    when = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    with transaction(runtime.sessions) as session:
        device = get_device(session, world.admin, device_id)
        record_reported_version(
            session, device, version="4.1.0", version_number=410, seq=1,
            reported_at=when, received_at=when,
        )  # fmt: skip
    assert client.get(url, headers=auth("biomed.a")).json() == [
        {
            "version": "4.1.0",
            "version_number": 410,
            "report_seq": 1,
            "reported_at": "2026-01-15T09:00:00Z",
            "received_at": "2026-01-15T09:00:00Z",
        }
    ]
    assert_problem(client.get(url, headers=auth("biomed.b")), 404)


CSV = (
    "serial,model,hardware_revision,hospital,site,tags\n"
    "C-1,IP-100,B,St. Anna Hospital,Main Campus,loaner\n"
    "C-2,IP-100,A,Bayview Medical Center,,\n"
)


def test_csv_import_over_http(
    client: TestClient,
    world: World,
    auth: Callable[[str], dict[str, str]],
    distribution: Distribution,
) -> None:
    headers = {**auth("root"), "Content-Type": "text/csv"}
    broken = CSV + "C-1,IP-100,Q,Nowhere,,\n"
    refused = client.post("/api/v1/devices/import", content=broken.encode(), headers=headers)
    problems = assert_problem(refused, 422)["problems"]
    assert problems == [
        {"line": 4, "column": "serial", "message": "IP-100 'C-1' is already on line 2"},
        {"line": 4, "column": "hardware_revision",
         "message": "IP-100 has no hardware revision 'Q' (it has: A, B, C)"},
        {"line": 4, "column": "hospital", "message": "no hospital named 'Nowhere'"},
    ]  # fmt: skip
    assert client.get("/api/v1/devices", headers=auth("root")).json() == []
    latin = client.post(
        "/api/v1/devices/import", content="serial\nSN-\xe9\n".encode("latin-1"), headers=headers
    )
    assert "not UTF-8" in assert_problem(latin, 422)["detail"]
    denied = client.post(
        "/api/v1/devices/import",
        content=CSV.encode(),
        headers={**auth("biomed.a"), "Content-Type": "text/csv"},
    )
    assert_problem(denied, 403)

    imported = client.post("/api/v1/devices/import", content=CSV.encode(), headers=headers)
    assert imported.status_code == 201, imported.text
    devices = imported.json()["devices"]
    assert [(d["line"], d["serial"], d["site_name"], d["tags"]) for d in devices] == [
        (2, "C-1", "Main Campus", ["loaner"]),
        (3, "C-2", None, []),
    ]
    assert all(d["enrollment_token"].startswith("mfe_") for d in devices)
    enrolled = client.post(
        "/api/v1/enroll", json={"token": devices[0]["enrollment_token"], "public_key": KEY.hex()}
    )
    assert enrolled.status_code == 200, enrolled.text


def test_fhir_export_over_http(
    client: TestClient, world: World, auth: Callable[[str], dict[str, str]]
) -> None:
    for org_id, serial in ((world.hospital_a, "F-A"), (world.hospital_b, "F-B")):
        registered = client.post(
            "/api/v1/devices",
            json={**DEVICE, "serial": serial, "org_id": org_id},
            headers=auth("root"),
        )
        assert registered.status_code == 201, registered.text
    r4b = client.get("/api/v1/devices/fhir", params={"version": "R4B"}, headers=auth("root"))
    assert r4b.status_code == 200, r4b.text
    assert r4b.headers["content-type"].startswith("application/fhir+json")
    bundle = BundleR4B.model_validate(r4b.json())
    assert sorted(e.resource.serialNumber for e in bundle.entry or []) == ["F-A", "F-B"]
    r5 = client.get("/api/v1/devices/fhir", headers=auth("biomed.a"))  # R5 by default
    parsed = BundleR5.model_validate(r5.json())
    assert [e.resource.serialNumber for e in parsed.entry or []] == ["F-A"]
    only_b = client.get(
        "/api/v1/devices/fhir", params={"hospital_id": world.hospital_b}, headers=auth("root")
    )
    assert [e["resource"]["serialNumber"] for e in only_b.json()["entry"]] == ["F-B"]
    assert_problem(
        client.get("/api/v1/devices/fhir", params={"version": "R6"}, headers=auth("root")), 422
    )
