"""Tenant isolation: hospital A's tokens against hospital B's (and the manufacturer's) objects.

``PROBES`` holds one probe per API route. The isolation test walks the routes of a real app
(not this table) and fails on a route without a probe; the guard test fails when the table and
the app disagree, so every new endpoint must state how it keeps hospitals apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from medfleet.accounts.tables import ApiToken, Department, ElectronicSignature, Site, User
from medfleet.api.app import api_routes
from medfleet.changes.tables import ChangeRequest
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, assert_problem, count, login
from tests.builders import PASSWORD, World

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


@dataclass(frozen=True)
class Ctx:
    """What a probe needs: the client, the world, the caller's headers, B's extra objects."""

    client: TestClient
    world: World
    headers: dict[str, str]
    b_department: int
    b_user: int
    b_device: str


Call = Callable[[Ctx], httpx.Response]
Expect = Callable[[Ctx, httpx.Response], None]


def denied(*statuses: int) -> Expect:
    """The request is refused with one of ``statuses`` as a problem."""

    def check(_ctx: Ctx, response: httpx.Response) -> None:
        assert response.status_code in statuses, response.text
        assert_problem(response, response.status_code)

    return check


def empty_list(_ctx: Ctx, response: httpx.Response) -> None:
    """An empty collection."""
    assert response.status_code == 200, response.text
    assert response.json() == []


def own_org_only(ctx: Ctx, response: httpx.Response) -> None:
    """Only A's organization, or A's own caller."""
    assert response.status_code == 200, response.text
    body = response.json()
    records = body if isinstance(body, list) else [body]
    own = {record.get("org_id", record.get("id")) for record in records}
    assert own == {ctx.world.hospital_a}


def own_events_only(ctx: Ctx, response: httpx.Response) -> None:
    """Audit events of A only, and nothing about B's objects."""
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert events
    assert {event["org_id"] for event in events} == {ctx.world.hospital_a}
    b_objects = {
        ("organization", str(ctx.world.hospital_b)),
        ("site", str(ctx.world.site_b)),
        ("department", str(ctx.b_department)),
        ("user", str(ctx.b_user)),
    }
    assert not {(e["object_type"], e["object_id"]) for e in events} & b_objects


def no_b_devices(ctx: Ctx, response: httpx.Response) -> None:
    """Only devices of A, if any."""
    assert response.status_code == 200, response.text
    assert {device["org_id"] for device in response.json()} <= {ctx.world.hospital_a}


def b_events_invisible(_ctx: Ctx, response: httpx.Response) -> None:
    """Filtering on B's objects finds nothing."""
    assert response.status_code == 200, response.text
    assert response.json()["events"] == []


Path = str | Callable[[Ctx], str]


def _at(path: Path, ctx: Ctx) -> str:
    return path if isinstance(path, str) else path(ctx)


def _get(path: Path, **params: Any) -> Call:
    return lambda c: c.client.get(_at(path, c), headers=c.headers, params=params)


def _send(method: str, path: Path, body: dict[str, Any]) -> Call:
    return lambda c: c.client.request(method, _at(path, c), json=body, headers=c.headers)


def _b_org(c: Ctx) -> str:
    return f"/api/v1/organizations/{c.world.hospital_b}"


def _b_site(c: Ctx) -> str:
    return f"/api/v1/sites/{c.world.site_b}"


NEW_USER = {"username": "mole.b", "full_name": "M", "password": PASSWORD, "roles": ["admin"]}
CR = "/api/v1/change-requests/CR-1"
NEW_DEVICE = {"model": "IP-100", "hardware_revision": "B", "serial": "MOLE-1"}
A_KEY = "11" * 32

PROBES: dict[tuple[str, str], list[tuple[Call, Expect]]] = {
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
    ("GET", "/api/v1/me"): [(_get("/api/v1/me"), own_org_only)],
    ("GET", "/api/v1/organizations"): [(_get("/api/v1/organizations"), own_org_only)],
    ("POST", "/api/v1/organizations"): [
        (
            _send(
                "POST",
                "/api/v1/organizations",
                {"name": "Bayview Medical Center", "kind": "hospital"},
            ),
            denied(403),
        ),
    ],
    ("GET", "/api/v1/organizations/{org_id}"): [(_get(_b_org), denied(404))],
    ("GET", "/api/v1/organizations/{org_id}/sites"): [
        (_get(lambda c: f"{_b_org(c)}/sites"), denied(404))
    ],
    ("POST", "/api/v1/organizations/{org_id}/sites"): [
        (
            _send("POST", lambda c: f"{_b_org(c)}/sites", {"name": "Mole", "timezone": "UTC"}),
            denied(404),
        ),
    ],
    ("GET", "/api/v1/organizations/{org_id}/users"): [
        (_get(lambda c: f"{_b_org(c)}/users"), denied(404))
    ],
    ("POST", "/api/v1/organizations/{org_id}/users"): [
        (_send("POST", lambda c: f"{_b_org(c)}/users", NEW_USER), denied(404)),
    ],
    ("GET", "/api/v1/sites/{site_id}"): [(_get(_b_site), denied(404))],
    ("POST", "/api/v1/sites/{site_id}/departments"): [
        (_send("POST", lambda c: f"{_b_site(c)}/departments", {"name": "Mole"}), denied(404)),
    ],
    ("GET", "/api/v1/audit/events"): [
        (_get("/api/v1/audit/events", limit=1000), own_events_only),
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
    ("GET", "/api/v1/audit/verify"): [(_get("/api/v1/audit/verify"), denied(403))],
    ("GET", "/api/v1/change-requests"): [(_get("/api/v1/change-requests"), empty_list)],
    ("POST", "/api/v1/change-requests"): [
        (_send("POST", "/api/v1/change-requests", {"title": "Mole"}), denied(404)),
    ],
    ("GET", "/api/v1/change-requests/{key}"): [(_get(CR), denied(404))],
    ("PATCH", "/api/v1/change-requests/{key}"): [
        (_send("PATCH", CR, {"title": "Moled"}), denied(404)),
    ],
    ("POST", "/api/v1/change-requests/{key}/signatures"): [
        (
            _send("POST", f"{CR}/signatures", {"password": PASSWORD, "meaning": "authored"}),
            denied(404),
        ),
    ],
    ("POST", "/api/v1/devices"): [
        (
            lambda c: c.client.post(
                "/api/v1/devices",
                json={**NEW_DEVICE, "org_id": c.world.hospital_b},
                headers=c.headers,
            ),
            denied(403),
        ),
    ],
    ("GET", "/api/v1/devices"): [(_get("/api/v1/devices"), no_b_devices)],
    ("GET", "/api/v1/devices/{device_id}"): [
        (_get(lambda c: f"/api/v1/devices/{c.b_device}"), denied(404))
    ],
    ("POST", "/api/v1/devices/{device_id}/reports"): [
        (
            _send("POST", lambda c: f"/api/v1/devices/{c.b_device}/reports", {"report": {}}),
            denied(403, 404),
        ),
    ],
    ("POST", "/api/v1/enroll"): [
        (_send("POST", "/api/v1/enroll", {"token": "mfe_guess", "public_key": A_KEY}), denied(401)),
    ],
}


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
