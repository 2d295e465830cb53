"""Tenant-isolation probes for the advisory routes (merged into ``PROBES``).

Advisory content is public information: hospital A's staff read the vulnerability list and
details (which hold nothing of hospital B's), but importing advisories is the manufacturer's and
is refused with 403, changing nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Ctx, Probes, denied, get, send
from tests.builders import World

V = "/api/v1/vulns"
GHSA = Path(__file__).parents[1] / "vulns/fixtures/advisories/osv/GHSA-j8r2-6x86-q33q.json"
SECRETS: tuple[str, ...] = ()


def _ghsa() -> dict[str, Any]:
    record: dict[str, Any] = json.loads(GHSA.read_text())
    return record


def _public_list(_ctx: Ctx, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert "CVE-2023-32681" in [item["key"] for item in response.json()["items"]]


def _public_detail(_ctx: Ctx, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["key"] == "CVE-2023-32681"


def _import_changed_copy(ctx: Ctx) -> httpx.Response:
    record = _ghsa()
    record["modified"] = "2030-01-01T00:00:00Z"
    record["summary"] = "Moled"
    body = {"format": "osv", "documents": [record]}
    response: httpx.Response = ctx.client.post(f"{V}/advisories", json=body, headers=ctx.headers)
    return response


def _unchanged(ctx: Ctx, response: httpx.Response) -> None:
    denied(403)(ctx, response)
    detail = ctx.client.get(f"{V}/vulnerabilities/CVE-2023-32681", headers=ctx.headers)
    assert detail.json()["summary"] != "Moled"


PROBES: Probes = {
    ("POST", f"{V}/advisories"): [
        (send("POST", f"{V}/advisories", {"format": "osv", "documents": [_ghsa()]}), denied(403)),
        (_import_changed_copy, _unchanged),
    ],
    ("GET", f"{V}/vulnerabilities"): [(get(f"{V}/vulnerabilities"), _public_list)],
    ("GET", f"{V}/vulnerabilities/{{vuln_id}}"): [
        (get(f"{V}/vulnerabilities/GHSA-j8r2-6x86-q33q"), _public_detail)
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """The manufacturer's engineer imports the GitHub advisory for requests."""
    del world
    response = client.post(
        f"{V}/advisories",
        json={"format": "osv", "documents": [_ghsa()]},
        headers=login(client, "eng"),
    )
    assert response.status_code == 200, response.text
