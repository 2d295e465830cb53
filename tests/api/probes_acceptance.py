"""Tenant-isolation probes for the hospital-acceptance routes (merged into ``PROBES``).

Hospital A's staff must never see or change hospital B's decisions and policies: B's site is
"not found" for a decision, B's policy is "not found" for removal, and the lists hold only A's.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Ctx, Probes, denied, get, send
from tests.builders import World

A = "/api/v1/acceptance"
RELEASE = f"{A}/releases/IP-100/4.2.0"
SECRETS: tuple[str, ...] = ()
_B: dict[str, Any] = {}
GONE = denied(404)


def _only_a(ctx: Ctx, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert {row["org_id"] for row in response.json()} <= {ctx.world.hospital_a}


def _no_b_sites(ctx: Ctx, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    sites = [site for release in response.json() for site in release["sites"]]
    assert {site["org_id"] for site in sites} <= {ctx.world.hospital_a}


def _b_site(c: Ctx) -> str:
    return f"{RELEASE}/sites/{c.world.site_b}"


def _b_policy(_c: Ctx) -> str:
    return f"{A}/policies/{_B['policy']}"


def _remove_b_policy(c: Ctx) -> httpx.Response:
    response: httpx.Response = c.client.delete(_b_policy(c), headers=c.headers)
    return response


def _set_for_b_site(c: Ctx) -> httpx.Response:
    body = {"urgency": "routine", "site_id": c.world.site_b}
    response: httpx.Response = c.client.post(f"{A}/policies", json=body, headers=c.headers)
    return response


PROBES: Probes = {
    ("GET", f"{A}/pending"): [(get(f"{A}/pending", include_decided=True), _no_b_sites)],
    ("GET", f"{A}/releases/{{model}}/{{version}}"): [(get(RELEASE), GONE)],
    ("PUT", f"{A}/releases/{{model}}/{{version}}/sites/{{site_id}}"): [
        (send("PUT", _b_site, {"approve": True}), GONE)
    ],
    ("POST", f"{A}/releases/{{model}}/{{version}}/sites/{{site_id}}/production"): [
        (send("POST", lambda c: f"{_b_site(c)}/production", {}), GONE)
    ],
    ("GET", f"{A}/policies"): [(get(f"{A}/policies"), _only_a)],
    ("POST", f"{A}/policies"): [(_set_for_b_site, GONE)],
    ("DELETE", f"{A}/policies/{{policy_id}}"): [(_remove_b_policy, GONE)],
}


def create_objects(client: TestClient, world: World) -> None:
    """Hospital B's admin sets an auto-approval policy for B's site."""
    headers = login(client, "admin.b")
    response = client.post(
        f"{A}/policies",
        json={"urgency": "critical", "site_id": world.site_b, "out_of_cycle": True},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    _B["policy"] = response.json()["id"]
