"""Change requests and their e-signatures over HTTP (21 CFR Part 11 rules end to end)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medfleet.accounts.tables import ElectronicSignature
from medfleet.changes.tables import ChangeRequest
from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, assert_problem, count
from tests.builders import PASSWORD, World

Auth = Callable[[str], dict[str, str]]
CRS = "/api/v1/change-requests"


def _create(client: TestClient, headers: dict[str, str], title: str = "Fix alarm latency") -> Any:
    response = client.post(
        CRS, json={"title": title, "description": "Alarm shows 2 s late."}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def _sign(
    client: TestClient, headers: dict[str, str], key: str, meaning: str, password: str = PASSWORD
) -> Any:
    return client.post(
        f"{CRS}/{key}/signatures",
        json={"password": password, "meaning": meaning, "comment": "checked"},
        headers=headers,
    )


def test_create_list_get_edit(client: TestClient, world: World, auth: Auth) -> None:
    created = _create(client, auth("eng"))
    assert created["key"] == "CR-1"
    assert created["author"] == "eng"
    assert created["signatures"] == []
    assert created["signature_lines"] == []
    second = _create(client, auth("qa"), "Update TLS library")
    assert second["key"] == "CR-2"
    listed = client.get(CRS, headers=auth("aud")).json()
    assert [c["key"] for c in listed] == ["CR-2", "CR-1"]
    one = client.get(f"{CRS}/cr-1", headers=auth("aud"))
    assert one.status_code == 200
    assert one.json()["title"] == "Fix alarm latency"
    edited = client.patch(
        f"{CRS}/CR-1", json={"title": "Fix alarm latency (v2)"}, headers=auth("eng")
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Fix alarm latency (v2)"
    assert edited.json()["description"] == "Alarm shows 2 s late."


def test_change_request_problems(
    client: TestClient, runtime: Runtime, world: World, auth: Auth
) -> None:
    assert_problem(client.get(f"{CRS}/CR-9", headers=auth("eng")), 404)
    assert_problem(client.get(f"{CRS}/bogus", headers=auth("eng")), 404)
    assert_problem(client.post(CRS, json={"title": "x"}, headers=auth("aud")), 403)
    assert_problem(client.post(CRS, json={"title": "   "}, headers=auth("eng")), 422)
    assert_problem(client.post(CRS, json={"title": ""}, headers=auth("eng")), 422)
    _create(client, auth("eng"))
    assert_problem(client.patch(f"{CRS}/CR-1", json={"title": " "}, headers=auth("eng")), 422)
    assert_problem(client.patch(f"{CRS}/CR-1", json={"title": "y"}, headers=auth("aud")), 403)
    assert_problem(_sign(client, auth("eng"), "CR-1", "blessed"), 422)
    assert count(runtime, ChangeRequest.id) == 1
    assert count(runtime, ElectronicSignature.id) == 0


def test_hospitals_see_no_change_requests(client: TestClient, world: World, auth: Auth) -> None:
    _create(client, auth("eng"))
    assert client.get(CRS, headers=auth("admin.a")).json() == []
    assert_problem(client.get(f"{CRS}/CR-1", headers=auth("admin.a")), 404)


def test_e_signature_rules(client: TestClient, runtime: Runtime, world: World, auth: Auth) -> None:
    engineer, qa = auth("eng"), auth("qa")
    _create(client, engineer)

    authored = _sign(client, engineer, "CR-1", "authored")
    assert authored.status_code == 201, authored.text
    [signature] = authored.json()["signatures"]
    assert signature["printed_name"] == "Eve Engineer"
    assert signature["meaning"] == "authored"
    assert signature["valid"] is True
    assert signature["comment"] == "checked"
    assert authored.json()["signature_lines"][0].startswith("Authored by Eve Engineer (eng) at ")

    own_approval = _sign(client, engineer, "CR-1", "approved")
    assert "cannot sign it as approved" in assert_problem(own_approval, 403)["detail"]

    wrong_password = _sign(client, qa, "CR-1", "approved", password="not my password")
    assert_problem(wrong_password, 401)
    assert count(runtime, ElectronicSignature.id) == 1

    approved = _sign(client, qa, "CR-1", "approved")
    assert approved.status_code == 201, approved.text
    signatures = approved.json()["signatures"]
    assert [(s["username"], s["meaning"], s["valid"]) for s in signatures] == [
        ("eng", "authored", True),
        ("qa", "approved", True),
    ]
    assert_problem(_sign(client, qa, "CR-1", "approved"), 409)  # same content, same meaning

    edited = client.patch(f"{CRS}/CR-1", json={"description": "Now 3 s."}, headers=engineer)
    assert edited.status_code == 200
    for body in (edited.json(), client.get(f"{CRS}/CR-1", headers=qa).json()):
        assert [s["valid"] for s in body["signatures"]] == [False, False]
        assert {s["reason"] for s in body["signatures"]} == {
            "the record changed after it was signed"
        }
        assert all("[INVALID: the record changed" in line for line in body["signature_lines"])
    listed = client.get(CRS, headers=qa).json()
    assert len(listed[0]["signature_lines"]) == 2


def test_signing_password_failures_lock_the_account(
    client: TestClient, runtime: Runtime, world: World, auth: Auth
) -> None:
    qa = auth("qa")
    _create(client, auth("eng"))
    for _ in range(runtime.settings.login_max_failures):
        assert_problem(_sign(client, qa, "CR-1", "approved", password="guess guess"), 401)
    assert_problem(_sign(client, qa, "CR-1", "approved"), 423)
    assert count(runtime, ElectronicSignature.id) == 0
