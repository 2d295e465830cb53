"""The audit trail over HTTP: scoped reading, paging, filters and chain verification."""

from __future__ import annotations

from collections.abc import Callable

from tests.api.helpers import TestClient, assert_problem
from tests.builders import World

Auth = Callable[[str], dict[str, str]]
EVENTS = "/api/v1/audit/events"


def test_hospital_reads_only_its_own_events(client: TestClient, world: World, auth: Auth) -> None:
    for user in ("admin.a", "biomed.a"):
        response = client.get(EVENTS, params={"limit": 1000}, headers=auth(user))
        assert response.status_code == 200, response.text
        events = response.json()["events"]
        assert events
        assert {event["org_id"] for event in events} == {world.hospital_a}
        assert "Bayview" not in response.text
    actions = {e["action"] for e in client.get(EVENTS, headers=auth("admin.a")).json()["events"]}
    assert {"site.created", "user.created", "token.issued"} <= actions


def test_manufacturer_auditor_reads_everything_in_pages(
    client: TestClient, world: World, auth: Auth
) -> None:
    headers = auth("aud")
    everything = client.get(EVENTS, params={"limit": 1000}, headers=headers).json()
    assert everything["next_after_seq"] is None
    seqs = [event["seq"] for event in everything["events"]]
    assert seqs == sorted(seqs)
    orgs = {event["org_id"] for event in everything["events"]}
    assert {world.admin.org_id, world.hospital_a, world.hospital_b} <= orgs
    paged: list[int] = []
    after = 0
    while True:
        page = client.get(EVENTS, params={"after_seq": after, "limit": 5}, headers=headers)
        body = page.json()
        paged.extend(event["seq"] for event in body["events"])
        if body["next_after_seq"] is None:
            break
        after = body["next_after_seq"]
    assert paged == seqs
    first = everything["events"][0]
    assert set(first) == {
        "seq", "at", "actor", "org_id", "action", "object_type",
        "object_id", "payload", "prev_hash", "hash",
    }  # fmt: skip
    assert isinstance(first["payload"], dict)


def test_filters_by_object(client: TestClient, world: World, auth: Auth) -> None:
    response = client.get(
        EVENTS,
        params={"object_type": "site", "object_id": str(world.site_b)},
        headers=auth("root"),
    )
    events = response.json()["events"]
    assert [(e["action"], e["object_id"]) for e in events] == [("site.created", str(world.site_b))]


def test_other_manufacturer_roles_may_not_read_the_trail(
    client: TestClient, world: World, auth: Auth
) -> None:
    for user in ("eng", "qa"):
        assert_problem(client.get(EVENTS, headers=auth(user)), 403)


def test_page_size_is_bounded(client: TestClient, world: World, auth: Auth) -> None:
    body = assert_problem(client.get(EVENTS, params={"limit": 1001}, headers=auth("aud")), 422)
    assert body["errors"][0]["loc"] == ["query", "limit"]
    assert_problem(client.get(EVENTS, params={"after_seq": -1}, headers=auth("aud")), 422)


def test_verify_for_manufacturer_admin_and_auditor_only(
    client: TestClient, world: World, auth: Auth
) -> None:
    for user in ("root", "aud"):
        response = client.get("/api/v1/audit/verify", headers=auth(user))
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["ok"] is True
        assert result["problem"] is None
        assert result["events_checked"] == result["last_seq"] > 10
    for user in ("eng", "admin.a", "biomed.b"):
        assert_problem(client.get("/api/v1/audit/verify", headers=auth(user)), 403)
