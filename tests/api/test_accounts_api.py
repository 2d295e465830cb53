"""Accounts over HTTP: tokens, lockout, the caller, organizations, sites, departments, users."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from medfleet.accounts.tables import Organization, Site, User
from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, assert_problem, audit_count, bearer, count, login
from tests.builders import PASSWORD, World
from tests.conftest import T0

Auth = Callable[[str], dict[str, str]]
TOKEN = "/api/v1/auth/token"


def test_token_is_issued_and_identifies_the_caller(
    client: TestClient, runtime: Runtime, world: World
) -> None:
    response = client.post(
        TOKEN, json={"username": "biomed.a", "password": PASSWORD, "label": "laptop"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("mf_")
    assert body["token_type"] == "Bearer"
    expected = T0 + timedelta(hours=runtime.settings.token_ttl_hours)
    assert body["expires_at"].replace("Z", "+00:00") == expected.isoformat()
    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json() == {
        "user_id": world.biomed_a.user_id,
        "username": "biomed.a",
        "full_name": "Bo Biomed",
        "org_id": world.hospital_a,
        "org_kind": "hospital",
        "roles": ["hospital_biomed"],
    }


def test_expired_token_is_refused(
    client: TestClient, runtime: Runtime, clock: FrozenClock, world: World
) -> None:
    headers = login(client, "eng")
    clock.advance(timedelta(hours=runtime.settings.token_ttl_hours))
    response = client.get("/api/v1/me", headers=headers)
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_wrong_password_is_401_and_unknown_user_looks_the_same(
    client: TestClient, world: World
) -> None:
    wrong = client.post(TOKEN, json={"username": "eng", "password": "not the password"})
    unknown = client.post(TOKEN, json={"username": "nobody", "password": PASSWORD})
    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")


def test_lockout_after_max_failures_then_unlock(
    client: TestClient, runtime: Runtime, clock: FrozenClock, world: World
) -> None:
    for _ in range(runtime.settings.login_max_failures):
        assert_problem(client.post(TOKEN, json={"username": "qa", "password": "wrong!"}), 401)
    locked = client.post(TOKEN, json={"username": "qa", "password": PASSWORD})
    body = assert_problem(locked, 423)
    assert body["type"].endswith("account-locked")
    until = T0 + timedelta(minutes=runtime.settings.login_lockout_minutes)
    assert body["locked_until"] == until.isoformat()
    assert int(locked.headers["retry-after"]) > 0
    clock.advance(timedelta(minutes=runtime.settings.login_lockout_minutes) - timedelta(seconds=1))
    assert_problem(client.post(TOKEN, json={"username": "qa", "password": PASSWORD}), 423)
    clock.advance(timedelta(seconds=1))
    assert client.post(TOKEN, json={"username": "qa", "password": PASSWORD}).status_code == 201


def test_organizations_scoped_to_caller(client: TestClient, world: World, auth: Auth) -> None:
    everything = client.get("/api/v1/organizations", headers=auth("root")).json()
    assert {org["name"] for org in everything} == {
        "Acme Medical",
        "St. Anna Hospital",
        "Bayview Medical Center",
    }
    own = client.get("/api/v1/organizations", headers=auth("biomed.a")).json()
    assert [org["id"] for org in own] == [world.hospital_a]
    one = client.get(f"/api/v1/organizations/{world.hospital_a}", headers=auth("biomed.a"))
    assert one.status_code == 200
    assert one.json()["kind"] == "hospital"
    assert_problem(client.get("/api/v1/organizations/9999", headers=auth("root")), 404)


def test_create_organization(
    client: TestClient, runtime: Runtime, world: World, auth: Auth
) -> None:
    created = client.post(
        "/api/v1/organizations",
        json={"name": "Harbor Clinic", "kind": "hospital"},
        headers=auth("root"),
    )
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    assert created.json()["name"] == "Harbor Clinic"
    assert (
        count(
            runtime,
            AuditEventRow.seq,
            AuditEventRow.action == "organization.created",
            AuditEventRow.object_id == str(org_id),
        )
        == 1
    )
    duplicate = client.post(
        "/api/v1/organizations",
        json={"name": "Harbor Clinic", "kind": "hospital"},
        headers=auth("root"),
    )
    assert assert_problem(duplicate, 409)["type"].endswith("conflict")
    second_maker = client.post(
        "/api/v1/organizations",
        json={"name": "Other Maker", "kind": "manufacturer"},
        headers=auth("root"),
    )
    assert_problem(second_maker, 422)
    bad_kind = client.post(
        "/api/v1/organizations", json={"name": "X", "kind": "clinic"}, headers=auth("root")
    )
    assert_problem(bad_kind, 422)
    by_engineer = client.post(
        "/api/v1/organizations", json={"name": "Y", "kind": "hospital"}, headers=auth("eng")
    )
    assert assert_problem(by_engineer, 403)["type"].endswith("forbidden")
    assert count(runtime, Organization.id) == 4


def test_sites_and_departments(client: TestClient, world: World, auth: Auth) -> None:
    headers = auth("admin.a")
    created = client.post(
        f"/api/v1/organizations/{world.hospital_a}/sites",
        json={"name": "East Wing", "timezone": "Europe/Vienna"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    site = created.json()
    assert site["org_id"] == world.hospital_a
    assert site["timezone"] == "Europe/Vienna"
    listed = client.get(f"/api/v1/organizations/{world.hospital_a}/sites", headers=headers)
    assert [s["name"] for s in listed.json()] == ["East Wing", "Main Campus"]
    department = client.post(
        f"/api/v1/sites/{site['id']}/departments", json={"name": "ICU"}, headers=headers
    )
    assert department.status_code == 201, department.text
    assert department.json()["site_id"] == site["id"]
    detail = client.get(f"/api/v1/sites/{site['id']}", headers=auth("biomed.a"))
    assert detail.status_code == 200
    assert [d["name"] for d in detail.json()["departments"]] == ["ICU"]
    again = client.post(
        f"/api/v1/sites/{site['id']}/departments", json={"name": "ICU"}, headers=headers
    )
    assert_problem(again, 409)
    by_biomed = client.post(
        f"/api/v1/sites/{site['id']}/departments", json={"name": "OR"}, headers=auth("biomed.a")
    )
    assert_problem(by_biomed, 403)


def test_bad_time_zone_changes_nothing(
    client: TestClient, runtime: Runtime, world: World, auth: Auth
) -> None:
    headers = auth("admin.a")
    sites_before, events_before = count(runtime, Site.id), audit_count(runtime)
    response = client.post(
        f"/api/v1/organizations/{world.hospital_a}/sites",
        json={"name": "Annex", "timezone": "CET"},
        headers=headers,
    )
    body = assert_problem(response, 422)
    assert "IANA" in body["detail"]
    assert count(runtime, Site.id) == sites_before
    assert count(runtime, Site.id, Site.name == "Annex") == 0
    assert audit_count(runtime) == events_before


def test_duplicate_site_is_409_and_changes_nothing(
    client: TestClient, runtime: Runtime, world: World, auth: Auth
) -> None:
    headers = auth("admin.a")
    events_before = audit_count(runtime)
    response = client.post(
        f"/api/v1/organizations/{world.hospital_a}/sites",
        json={"name": "Main Campus", "timezone": "Europe/Berlin"},
        headers=headers,
    )
    assert_problem(response, 409)
    assert audit_count(runtime) == events_before


def test_users_listed_without_credentials(client: TestClient, world: World, auth: Auth) -> None:
    response = client.get(
        f"/api/v1/organizations/{world.hospital_a}/users", headers=auth("admin.a")
    )
    assert response.status_code == 200
    users = response.json()
    assert [u["username"] for u in users] == ["admin.a", "biomed.a"]
    assert users[1]["roles"] == ["hospital_biomed"]
    for user in users:
        assert "password_hash" not in user
        assert "password" not in user
    assert "argon2" not in response.text
    assert_problem(
        client.get(f"/api/v1/organizations/{world.hospital_a}/users", headers=auth("biomed.a")),
        403,
    )


def test_create_user(client: TestClient, runtime: Runtime, world: World, auth: Auth) -> None:
    path = f"/api/v1/organizations/{world.hospital_a}/users"
    new = {
        "username": "it.a",
        "full_name": "Ida IT",
        "password": "a long enough password",
        "roles": ["hospital_it"],
        "email": "ida@example.org",
    }
    created = client.post(path, json=new, headers=auth("admin.a"))
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["hospital_it"]
    assert "password" not in created.text
    assert login(client, "it.a", "a long enough password")
    assert_problem(client.post(path, json=new, headers=auth("admin.a")), 409)
    users_before, events_before = count(runtime, User.id), audit_count(runtime)
    for body, fragment in (
        ({**new, "username": "x.a", "roles": ["wizard"]}, "unknown role"),
        ({**new, "username": "y.a", "roles": ["engineer"]}, "not allowed"),
        ({**new, "username": "z.a", "password": "short"}, "at least"),
        ({**new, "username": "Bad Name"}, "user name"),
    ):
        response = client.post(path, json=body, headers=auth("admin.a"))
        assert fragment in assert_problem(response, 422)["detail"]
        assert str(body["password"]) not in response.text  # never echoed
    assert count(runtime, User.id) == users_before
    assert audit_count(runtime) == events_before
