"""Tenant-isolation probes for the windows routes (merged into ``test_isolation.PROBES``).

Hospital B has a window (id 1, the first one of the test database), a site blackout (id 1) and
a hospital-wide blackout (id 2). Hospital A's admin and biomed get 404 for each of them and for
B's site, and see none of them in lists (hospital A has no windows or blackouts of its own).
"""

from __future__ import annotations

from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Ctx, Probes, denied, empty_list, get, send
from tests.builders import World

SECRET_WINDOW = "Bayview secret window"
SECRET_REASON = "Bayview secret freeze"
SECRETS: tuple[str, ...] = (SECRET_WINDOW, SECRET_REASON)
GONE = denied(404)
B_WINDOW = "/api/v1/windows/1"


def _b_site_upcoming(c: Ctx) -> str:
    return f"/api/v1/sites/{c.world.site_b}/windows/upcoming"


def _window_at_b(c: Ctx) -> dict[str, object]:
    return {
        "site_id": c.world.site_b,
        "name": "Mole",
        "start_local": "2026-03-07T02:00",
        "rrule": "FREQ=WEEKLY",
        "duration_minutes": 60,
    }


PROBES: Probes = {
    ("GET", "/api/v1/windows"): [
        (get("/api/v1/windows"), empty_list),
        (lambda c: get("/api/v1/windows", site_id=c.world.site_b)(c), GONE),
    ],
    ("POST", "/api/v1/windows"): [
        (lambda c: send("POST", "/api/v1/windows", _window_at_b(c))(c), GONE),
    ],
    ("GET", "/api/v1/windows/{window_id}"): [(get(B_WINDOW), GONE)],
    ("DELETE", "/api/v1/windows/{window_id}"): [
        (lambda c: c.client.delete(B_WINDOW, headers=c.headers), GONE)
    ],
    ("GET", "/api/v1/blackouts"): [
        (get("/api/v1/blackouts"), empty_list),
        (lambda c: get("/api/v1/blackouts", site_id=c.world.site_b)(c), GONE),
        (lambda c: get("/api/v1/blackouts", org_id=c.world.hospital_b)(c), GONE),
    ],
    ("POST", "/api/v1/blackouts"): [
        (
            lambda c: send(
                "POST",
                "/api/v1/blackouts",
                {
                    "site_id": c.world.site_b,
                    "first_day": "2026-12-24",
                    "last_day": "2026-12-24",
                    "reason": "Mole",
                },
            )(c),
            GONE,
        ),
        (
            lambda c: send(
                "POST",
                "/api/v1/blackouts",
                {
                    "org_id": c.world.hospital_b,
                    "first_day": "2026-12-24",
                    "last_day": "2026-12-24",
                    "reason": "Mole",
                },
            )(c),
            GONE,
        ),
    ],
    ("DELETE", "/api/v1/blackouts/{blackout_id}"): [
        (lambda c: c.client.delete("/api/v1/blackouts/1", headers=c.headers), GONE),
        (lambda c: c.client.delete("/api/v1/blackouts/2", headers=c.headers), GONE),
    ],
    ("GET", "/api/v1/sites/{site_id}/windows/upcoming"): [
        (get(_b_site_upcoming), GONE),
        (get(_b_site_upcoming, count=3), GONE),
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """Hospital B's window, site blackout and hospital-wide blackout (ids 1, 1 and 2)."""
    admin_b = login(client, "admin.b")
    window = client.post(
        "/api/v1/windows",
        json={
            "site_id": world.site_b,
            "name": SECRET_WINDOW,
            "start_local": "2026-01-03T02:00",
            "rrule": "FREQ=WEEKLY;BYDAY=SA",
            "duration_minutes": 240,
        },
        headers=admin_b,
    )
    assert window.status_code == 201, window.text
    assert window.json()["id"] == 1
    for number, body in enumerate(({"site_id": world.site_b}, {"org_id": world.hospital_b}), 1):
        blackout = client.post(
            "/api/v1/blackouts",
            json={
                **body,
                "first_day": "2026-12-24",
                "last_day": "2026-12-26",
                "reason": SECRET_REASON,
            },
            headers=admin_b,
        )
        assert blackout.status_code == 201, blackout.text
        assert blackout.json()["id"] == number
