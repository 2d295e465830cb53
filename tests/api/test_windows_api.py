"""Maintenance windows, blackouts and upcoming openings over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from medfleet.clock import FrozenClock
from medfleet.rollouts.window_tables import BlackoutPeriod, MaintenanceWindow
from medfleet.runtime import Runtime
from tests.api.helpers import (
    TestClient,
    assert_problem,
    audit_count,
    audit_events,
    count,
    login,
)
from tests.builders import World

Auth = Callable[[str], dict[str, str]]
WINDOWS, BLACKOUTS = "/api/v1/windows", "/api/v1/blackouts"


def _window(world: World, **changes: Any) -> dict[str, Any]:
    return {
        "site_id": world.site_a,
        "name": "Weekend",
        "start_local": "2026-03-07T02:30",
        "rrule": "FREQ=WEEKLY;BYDAY=SA,SU",
        "duration_minutes": 240,
    } | changes


def test_add_list_get_and_remove_a_window(
    client: TestClient, world: World, auth: Auth, runtime: Runtime
) -> None:
    created = client.post(WINDOWS, json=_window(world), headers=auth("biomed.a"))
    assert created.status_code == 201, created.text
    window = created.json()
    assert window | {"id": 0, "created_at": ""} == {
        "id": 0,
        "org_id": world.hospital_a,
        "site_id": world.site_a,
        "department_id": None,
        "name": "Weekend",
        "timezone": "Europe/Berlin",
        "start_local": "2026-03-07T02:30",
        "rrule": "FREQ=WEEKLY;BYDAY=SA,SU",
        "duration_minutes": 240,
        "created_by": "biomed.a",
        "created_at": "",
    }
    one = f"{WINDOWS}/{window['id']}"
    assert client.get(one, headers=auth("root")).json() == window
    assert client.get(WINDOWS, headers=auth("admin.a")).json() == [window]
    assert client.get(WINDOWS, params={"site_id": world.site_a}, headers=auth("aud")).json() == [
        window
    ]
    assert client.get(WINDOWS, headers=auth("biomed.b")).json() == []
    assert_problem(client.get(one, headers=auth("biomed.b")), 404)
    assert_problem(client.delete(one, headers=auth("root")), 403)
    assert_problem(client.get(WINDOWS, headers=auth("eng")), 403)
    removed = client.delete(one, headers=auth("admin.a"))
    assert removed.status_code == 204, removed.text
    assert_problem(client.get(one, headers=auth("admin.a")), 404)
    actions = [e["action"] for e in audit_events(runtime, "maintenance_window.")]
    assert actions == ["maintenance_window.added", "maintenance_window.removed"]


def test_bad_windows_are_refused_with_the_reason_and_change_nothing(
    client: TestClient, world: World, auth: Auth, runtime: Runtime
) -> None:
    headers, manufacturer = auth("biomed.a"), auth("root")
    before = audit_count(runtime)
    cases = [
        (_window(world, rrule="FREQ=DAILY;DTSTART=20260307T023000"), 422, "DTSTART"),
        (_window(world, rrule="FREQ=DAILY;COUNT=2;UNTIL=20261231"), 422, "not both"),
        (_window(world, rrule="FREQ=DAILY", duration_minutes=1440), 422, "only 24h apart"),
        (_window(world, duration_minutes=0), 422, "must be positive"),
        (_window(world, start_local="2026-03-07T02:30+01:00"), 422, "without UTC offset"),
        (_window(world, start_local="soon"), 422, "not a local date-time"),
        (_window(world, site_id=world.site_b), 404, "not found"),
        (_window(world, department_id=987), 404, "department 987 not found"),
    ]
    for body, status, detail in cases:
        problem = assert_problem(client.post(WINDOWS, json=body, headers=headers), status)
        assert detail in problem["detail"], problem
    assert_problem(client.post(WINDOWS, json=_window(world), headers=manufacturer), 403)
    assert count(runtime, MaintenanceWindow.id) == 0
    assert audit_count(runtime) == before


def test_upcoming_in_local_time_across_spring_forward(
    client: TestClient, world: World, auth: Auth, clock: FrozenClock
) -> None:
    created = client.post(WINDOWS, json=_window(world), headers=auth("biomed.a"))
    assert created.status_code == 201, created.text
    clock.advance(timedelta(days=71))  # 2026-03-27 09:00 UTC, a Friday
    response = client.get(
        f"/api/v1/sites/{world.site_a}/windows/upcoming",
        params={"count": 3},
        headers=auth("admin.a"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["site_id"], body["department_id"], body["timezone"]) == (
        world.site_a,
        None,
        "Europe/Berlin",
    )
    saturday, sunday, next_saturday = body["openings"]
    assert saturday == {
        "window_id": created.json()["id"],
        "window": "Weekend",
        "start": "2026-03-28T01:30:00+00:00",
        "end": "2026-03-28T05:30:00+00:00",
        "timezone": "Europe/Berlin",
        "local_start": "2026-03-28T02:30:00+01:00",
        "local_end": "2026-03-28T06:30:00+01:00",
        "zone_start": "CET",
        "zone_end": "CET",
        "duration_minutes": 240,
        "adjusted": None,
        "text": "Sat 2026-03-28 02:30 CET (+01:00) → 06:30 CET (+01:00) (4h)",
    }
    assert (sunday["start"], sunday["local_start"], sunday["zone_start"]) == (
        "2026-03-29T01:30:00+00:00",
        "2026-03-29T03:30:00+02:00",
        "CEST",
    )
    assert "02:30 does not exist on 2026-03-29" in sunday["adjusted"]
    assert next_saturday["local_start"] == "2026-04-04T02:30:00+02:00"
    problem = assert_problem(
        client.get(
            f"/api/v1/sites/{world.site_a}/windows/upcoming",
            params={"count": 500},
            headers=auth("admin.a"),
        ),
        422,
    )
    assert "count must be from 1 to 100" in problem["detail"]


def test_blackouts_for_a_site_and_the_whole_hospital(
    client: TestClient, world: World, auth: Auth, runtime: Runtime, clock: FrozenClock
) -> None:
    headers = auth("admin.a")
    assert client.post(WINDOWS, json=_window(world), headers=headers).status_code == 201
    site_wide = client.post(
        BLACKOUTS,
        json={
            "site_id": world.site_a,
            "first_day": "2026-03-28",
            "last_day": "2026-03-28",
            "reason": "inventory",
        },
        headers=headers,
    )
    assert site_wide.status_code == 201, site_wide.text
    hospital = client.post(
        BLACKOUTS,
        json={"first_day": "2026-04-04", "last_day": "2026-04-05", "reason": "Easter"},
        headers=headers,
    )
    assert hospital.status_code == 201, hospital.text
    assert hospital.json()["scope"] == "hospital"
    assert hospital.json()["org_id"] == world.hospital_a
    listed = client.get(BLACKOUTS, params={"site_id": world.site_a}, headers=auth("biomed.a"))
    assert [b["reason"] for b in listed.json()] == ["inventory", "Easter"]
    clock.advance(timedelta(days=71))  # tokens issued before have expired
    response = client.get(
        f"/api/v1/sites/{world.site_a}/windows/upcoming",
        params={"count": 2},
        headers=login(client, "biomed.a"),
    )
    assert response.status_code == 200, response.text
    upcoming = response.json()["openings"]
    assert [o["local_start"][:10] for o in upcoming] == ["2026-03-29", "2026-04-11"]
    bad = client.post(
        BLACKOUTS,
        json={"first_day": "2026-04-05", "last_day": "2026-04-04", "reason": "x"},
        headers=login(client, "admin.a"),
    )
    assert "before its first day" in assert_problem(bad, 422)["detail"]
    no_org = client.post(
        BLACKOUTS,
        json={"first_day": "2026-04-05", "last_day": "2026-04-05", "reason": "x"},
        headers=login(client, "root"),
    )
    assert "needs the hospital" in assert_problem(no_org, 422)["detail"]
    assert_problem(
        client.post(
            BLACKOUTS,
            json={
                "org_id": world.hospital_a,
                "first_day": "2026-04-05",
                "last_day": "2026-04-05",
                "reason": "x",
            },
            headers=login(client, "root"),
        ),
        403,
    )
    gone = client.delete(f"{BLACKOUTS}/{site_wide.json()['id']}", headers=login(client, "biomed.a"))
    assert gone.status_code == 204
    assert count(runtime, BlackoutPeriod.id) == 1
    actions = [e["action"] for e in audit_events(runtime, "blackout.")]
    assert actions == ["blackout.added", "blackout.added", "blackout.removed"]
