"""Tenant-isolation probes for the releases routes (merged into ``test_isolation.PROBES``).

Every route of the domain needs a probe here: hospital A's admin and biomed call it against the
manufacturer's (or hospital B's) objects and must be refused or see nothing. Release records
belong to the manufacturer: hospital staff get 404 for every release (before any password or
body is read) and an empty list.
"""

from __future__ import annotations

import httpx

from tests.api.helpers import PASSWORD, TestClient, login
from tests.api.isolation_support import Call, Ctx, Probes, denied, empty_list, get, send
from tests.builders import World

BASE = "/api/v1/releases"
ONE = f"{BASE}/IP-100/4.2.0"
SECRET_NOTE = "Manufacturer-secret release note"
SECRET_BUILD = "build-secret-77"
SECRETS: tuple[str, ...] = (SECRET_NOTE, SECRET_BUILD)
NEW = {"model": "IP-100", "version": "9.9.9", "version_number": 999}
GONE = denied(404)


def _upload(path: str, **params: str) -> Call:
    """PUT a raw body, as file uploads are sent."""

    def call(c: Ctx) -> httpx.Response:
        response: httpx.Response = c.client.put(
            path, content=b"mole", params=params, headers=c.headers
        )
        return response

    return call


PROBES: Probes = {
    ("GET", BASE): [(get(BASE), empty_list), (get(BASE, model="IP-100"), empty_list)],
    ("POST", BASE): [(send("POST", BASE, NEW), GONE)],
    ("POST", f"{BASE}/signing/keys"): [
        (send("POST", f"{BASE}/signing/keys", {"password": PASSWORD}), GONE)
    ],
    ("POST", f"{BASE}/signing/models"): [
        (
            send(
                "POST",
                f"{BASE}/signing/models",
                {"model": "IP-100", "holders": ["qa"], "password": PASSWORD},
            ),
            GONE,
        )
    ],
    ("GET", f"{BASE}/{{model}}/{{version}}"): [(get(ONE), GONE)],
    ("PATCH", f"{BASE}/{{model}}/{{version}}"): [(send("PATCH", ONE, {"build_id": "x"}), GONE)],
    ("PUT", f"{BASE}/{{model}}/{{version}}/artifact"): [
        (_upload(f"{ONE}/artifact", filename="mole.img"), GONE)
    ],
    ("PUT", f"{BASE}/{{model}}/{{version}}/sbom"): [
        (_upload(f"{ONE}/sbom", format="cyclonedx-json"), GONE)
    ],
    ("POST", f"{BASE}/{{model}}/{{version}}/signatures"): [
        (send("POST", f"{ONE}/signatures", {"password": PASSWORD, "meaning": "authored"}), GONE)
    ],
    ("POST", f"{BASE}/{{model}}/{{version}}/verify"): [(send("POST", f"{ONE}/verify", {}), GONE)],
    ("POST", f"{BASE}/{{model}}/{{version}}/reopen"): [(send("POST", f"{ONE}/reopen", {}), GONE)],
    ("POST", f"{BASE}/{{model}}/{{version}}/approve"): [
        (send("POST", f"{ONE}/approve", {"password": PASSWORD}), GONE)
    ],
    ("POST", f"{BASE}/{{model}}/{{version}}/release"): [
        (send("POST", f"{ONE}/release", {"password": PASSWORD}), GONE)
    ],
    ("POST", f"{BASE}/{{model}}/{{version}}/withdraw"): [
        (send("POST", f"{ONE}/withdraw", {"reason": "mole"}), GONE)
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """A manufacturer draft IP-100 4.2.0 with notes and a build id hospitals must not see."""
    engineer = login(client, "eng")
    change = client.post(
        "/api/v1/change-requests", json={"title": "Included in a release"}, headers=engineer
    )
    assert change.status_code == 201, change.text
    created = client.post(
        BASE,
        json={
            "model": "IP-100",
            "version": "4.2.0",
            "version_number": 420,
            "build_id": SECRET_BUILD,
            "hardware_revisions": ["B"],
            "notes": {"what_changed": SECRET_NOTE},
            "change_requests": [change.json()["key"]],
        },
        headers=engineer,
    )
    assert created.status_code == 201, created.text
    uploaded = client.put(
        f"{ONE}/artifact", content=b"firmware", params={"filename": "ip100.img"}, headers=engineer
    )
    assert uploaded.status_code == 200, uploaded.text
