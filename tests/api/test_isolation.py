"""Tenant isolation: hospital A's tokens against hospital B's (and the manufacturer's) objects.

``PROBES`` holds one probe per API route. The isolation test walks the routes of a real app
(not this table) and fails on a route without a probe; the guard test fails when the table and
the app disagree, so every new endpoint must state how it keeps hospitals apart.
"""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from medfleet.accounts.tables import ApiToken, Department, ElectronicSignature, Site, User
from medfleet.api.app import api_routes
from medfleet.changes.tables import ChangeRequest
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from tests.api import (
    probes_acceptance,
    probes_changes,
    probes_fleet,
    probes_releases,
    probes_reports,
    probes_risk,
    probes_rollouts,
    probes_trace,
    probes_vulns_advisory,
    probes_vulns_deadline,
    probes_vulns_exposure,
    probes_vulns_findings,
    probes_vulns_sbom,
    probes_vulns_vex,
    probes_windows,
)
from tests.api.helpers import TestClient, count, login
from tests.api.isolation_support import (
    Ctx,
    Probes,
    b_events_invisible,
    denied,
    empty_list,
    get,
    own_events_only,
    own_org_only,
    send,
)
from tests.builders import PASSWORD, World

# Each domain's probes live beside its tests; a module may also create manufacturer objects
# (``create_objects``) that hospital A must not reach, and name strings it must never see.
DOMAIN_PROBES = (
    probes_changes,
    probes_risk,
    probes_trace,
    probes_releases,
    probes_fleet,
    probes_windows,
    probes_reports,
    probes_rollouts,
    probes_acceptance,
    probes_vulns_sbom,
    probes_vulns_advisory,
    probes_vulns_findings,
    probes_vulns_vex,
    probes_vulns_exposure,
    probes_vulns_deadline,
)

B_SECRETS = (
    "Bayview Medical Center",
    "America/New_York",
    "biomed.b",
    "admin.b",
    "Bea Biomed",
    "Ben Admin",
    "Bayview Secret ICU",
    "Manufacturer-internal change",
    "BAYVIEW-SERIAL-7",
)


def _b_org(c: Ctx) -> str:
    return f"/api/v1/organizations/{c.world.hospital_b}"


def _b_site(c: Ctx) -> str:
    return f"/api/v1/sites/{c.world.site_b}"


NEW_USER = {"username": "mole.b", "full_name": "M", "password": PASSWORD, "roles": ["admin"]}
CR = "/api/v1/change-requests/CR-1"
NEW_DEVICE = {"model": "IP-100", "hardware_revision": "B", "serial": "MOLE-1"}

PROBES: Probes = {
    ("POST", "/api/v1/auth/token"): [
        (
            lambda c: c.client.post(
                "/api/v1/auth/token",
                json={"username": "admin.b", "password": "not B's password"},
                headers=c.headers,
            ),
            denied(401),
        ),
    ],
    ("GET", "/api/v1/me"): [(get("/api/v1/me"), own_org_only)],
    ("GET", "/api/v1/organizations"): [(get("/api/v1/organizations"), own_org_only)],
    ("POST", "/api/v1/organizations"): [
        (
            send(
                "POST",
                "/api/v1/organizations",
                {"name": "Bayview Medical Center", "kind": "hospital"},
            ),
            denied(403),
        ),
    ],
    ("GET", "/api/v1/organizations/{org_id}"): [(get(_b_org), denied(404))],
    ("GET", "/api/v1/organizations/{org_id}/sites"): [
        (get(lambda c: f"{_b_org(c)}/sites"), denied(404))
    ],
    ("POST", "/api/v1/organizations/{org_id}/sites"): [
        (
            send("POST", lambda c: f"{_b_org(c)}/sites", {"name": "Mole", "timezone": "UTC"}),
            denied(404),
        ),
    ],
    ("GET", "/api/v1/organizations/{org_id}/users"): [
        (get(lambda c: f"{_b_org(c)}/users"), denied(404))
    ],
    ("POST", "/api/v1/organizations/{org_id}/users"): [
        (send("POST", lambda c: f"{_b_org(c)}/users", NEW_USER), denied(404)),
    ],
    ("GET", "/api/v1/sites/{site_id}"): [(get(_b_site), denied(404))],
    ("POST", "/api/v1/sites/{site_id}/departments"): [
        (send("POST", lambda c: f"{_b_site(c)}/departments", {"name": "Mole"}), denied(404)),
    ],
    ("GET", "/api/v1/audit/events"): [
        (get("/api/v1/audit/events", limit=1000), own_events_only),
        (
            lambda c: c.client.get(
                "/api/v1/audit/events",
                params={"object_type": "organization", "object_id": str(c.world.hospital_b)},
                headers=c.headers,
            ),
            b_events_invisible,
        ),
        (
            lambda c: c.client.get(
                "/api/v1/audit/events",
                params={"object_type": "site", "object_id": str(c.world.site_b)},
                headers=c.headers,
            ),
            b_events_invisible,
        ),
    ],
    ("GET", "/api/v1/audit/verify"): [(get("/api/v1/audit/verify"), denied(403))],
    ("GET", "/api/v1/change-requests"): [(get("/api/v1/change-requests"), empty_list)],
    ("POST", "/api/v1/change-requests"): [
        (send("POST", "/api/v1/change-requests", {"title": "Mole"}), denied(404)),
    ],
    ("GET", "/api/v1/change-requests/{key}"): [(get(CR), denied(404))],
    ("PATCH", "/api/v1/change-requests/{key}"): [
        (send("PATCH", CR, {"title": "Moled"}), denied(404)),
    ],
    ("POST", "/api/v1/change-requests/{key}/signatures"): [
        (
            send("POST", f"{CR}/signatures", {"password": PASSWORD, "meaning": "authored"}),
            denied(404),
        ),
    ],
}
for _module in DOMAIN_PROBES:
    assert not PROBES.keys() & _module.PROBES.keys(), f"{_module.__name__} repeats a probe"
    PROBES.update(_module.PROBES)
B_SECRETS += tuple(secret for module in DOMAIN_PROBES for secret in module.SECRETS)


def _snapshot(runtime: Runtime, world: World) -> dict[str, int]:
    """Counts of everything a probe could have written."""
    return {
        "b_sites": count(runtime, Site.id, Site.org_id == world.hospital_b),
        "departments": count(runtime, Department.id),
        "b_users": count(runtime, User.id, User.org_id == world.hospital_b),
        "users": count(runtime, User.id),
        "change_requests": count(runtime, ChangeRequest.id),
        "signatures": count(runtime, ElectronicSignature.id),
        "b_tokens": count(runtime, ApiToken.id, ApiToken.user_id == world.admin_b.user_id),
        "devices": count(runtime, Device.id),
        "enrolled": count(runtime, Device.id, Device.key_id.is_not(None)),
    }


@pytest.fixture
def b_objects(client: TestClient, world: World) -> tuple[int, int, str]:
    """Extra objects: a department, a user and a device in B, a manufacturer change request."""
    root = login(client, "root")
    department = client.post(
        f"/api/v1/sites/{world.site_b}/departments",
        json={"name": "Bayview Secret ICU"},
        headers=root,
    )
    assert department.status_code == 201, department.text
    engineer = login(client, "eng")
    created = client.post(
        "/api/v1/change-requests", json={"title": "Manufacturer-internal change"}, headers=engineer
    )
    assert created.status_code == 201, created.text
    signed = client.post(
        f"{CR}/signatures", json={"password": PASSWORD, "meaning": "authored"}, headers=engineer
    )
    assert signed.status_code == 201, signed.text
    device = client.post(
        "/api/v1/devices",
        json={**NEW_DEVICE, "serial": "BAYVIEW-SERIAL-7", "org_id": world.hospital_b},
        headers=root,
    )
    assert device.status_code == 201, device.text
    for module in DOMAIN_PROBES:
        module.create_objects(client, world)
    return department.json()["id"], world.admin_b.user_id, device.json()["device_id"]


def unprobed(app: FastAPI) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Routes the app serves without a probe, and probes for routes it does not serve."""
    served = {(route.method, route.path) for route in api_routes(app)}
    assert served, "no API routes found: the route walk is broken"
    return sorted(served - PROBES.keys()), sorted(PROBES.keys() - served)


def test_every_api_route_has_an_isolation_probe(app: FastAPI) -> None:
    missing, stale = unprobed(app)
    assert not missing, f"routes without a tenant-isolation probe in PROBES: {missing}"
    assert not stale, f"PROBES lists routes the app no longer serves: {stale}"


def test_guard_notices_a_new_route(app: FastAPI) -> None:
    extra = APIRouter(prefix="/api/v1/extras")

    @extra.delete("/{extra_id}")
    def remove_extra(extra_id: int) -> None:
        """A route nobody wrote a probe for."""

    app.include_router(extra)
    missing, _stale = unprobed(app)
    assert missing == [("DELETE", "/api/v1/extras/{extra_id}")]


@pytest.mark.parametrize("username", ["admin.a", "biomed.a"])
def test_hospital_a_cannot_reach_hospital_b(
    *,
    app: FastAPI,
    client: TestClient,
    runtime: Runtime,
    world: World,
    b_objects: tuple[int, int, str],
    username: str,
) -> None:
    headers = login(client, username)
    ctx = Ctx(client, world, headers, *b_objects)
    before = _snapshot(runtime, world)
    routes = api_routes(app)
    assert len(routes) == len(PROBES)
    for route in routes:
        probes = PROBES.get((route.method, route.path))
        assert probes, f"{route.method} {route.path} has no isolation probe"
        for call, expect in probes:
            response = call(ctx)
            where = f"{route.method} {route.path} -> {response.status_code}"
            expect(ctx, response)
            for secret in B_SECRETS:
                assert secret not in response.text, f"{where} leaks {secret!r}"
    assert _snapshot(runtime, world) == before
    still = client.get("/api/v1/change-requests/CR-1", headers=login(client, "eng")).json()
    assert still["title"] == "Manufacturer-internal change"
    assert [s["valid"] for s in still["signatures"]] == [True]
