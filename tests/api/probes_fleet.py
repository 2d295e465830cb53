"""Tenant-isolation probes for the fleet routes (merged into ``test_isolation.PROBES``).

Devices belong to one hospital: hospital A's admin and biomed get 404 for B's device whatever
they do to it (show, edit, history), see only A's own devices in lists and FHIR exports, and
may neither register nor import devices (403). The device-model catalogue is the
manufacturer's and readable by everyone signed in, but only the manufacturer changes it.
``create_objects`` gives B a second device with a site, a test flag, a UDI lot and a tag
(set by B's own admin), and A one device of its own.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import TestClient, login
from tests.api.isolation_support import (
    Call,
    Ctx,
    Probes,
    denied,
    empty_list,
    get,
    no_b_devices,
    send,
)
from tests.builders import MODEL, MODEL_GTIN, World

DEVICES = "/api/v1/devices"
MODELS = "/api/v1/device-models"
SECRET_SERIAL = "BAYVIEW-SERIAL-8"
SECRET_LOT = "BAYLOT9"
SECRET_TAG = "bayview-secret-tag"
SECRETS: tuple[str, ...] = (SECRET_SERIAL, SECRET_LOT, SECRET_TAG)
A_SERIAL = "ANNA-OWN-1"
A_KEY = "11" * 32
NEW_DEVICE = {"model": MODEL, "hardware_revision": "B", "serial": "MOLE-1"}
GONE = denied(404)


def _b_device(c: Ctx) -> str:
    return f"{DEVICES}/{c.b_device}"


def _post_csv(body: str) -> Call:
    def call(c: Ctx) -> httpx.Response:
        response: httpx.Response = c.client.post(
            f"{DEVICES}/import",
            content=body.encode(),
            headers={**c.headers, "Content-Type": "text/csv"},
        )
        return response

    return call


def own_devices_only(ctx: Ctx, response: httpx.Response) -> None:
    """A's own device, and nothing of B."""
    no_b_devices(ctx, response)
    assert [d["serial"] for d in response.json()] == [A_SERIAL]


def own_bundle_only(ctx: Ctx, response: httpx.Response) -> None:
    """A FHIR bundle with exactly A's device in it."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    entries = response.json().get("entry", [])
    owners = {e["resource"]["owner"]["identifier"]["value"] for e in entries}
    assert owners == {str(ctx.world.hospital_a)}
    assert [e["resource"]["serialNumber"] for e in entries] == [A_SERIAL]


def catalogue_readable(_ctx: Ctx, response: httpx.Response) -> None:
    """The shared catalogue: readable, with the model devices use."""
    assert response.status_code == 200, response.text
    body: Any = response.json()
    names = [m["name"] for m in body] if isinstance(body, list) else [body["name"]]
    assert MODEL in names


PROBES: Probes = {
    ("POST", DEVICES): [
        (
            lambda c: c.client.post(
                DEVICES, json={**NEW_DEVICE, "org_id": c.world.hospital_b}, headers=c.headers
            ),
            denied(403),
        ),
        (
            lambda c: c.client.post(
                DEVICES, json={**NEW_DEVICE, "org_id": c.world.hospital_a}, headers=c.headers
            ),
            denied(403),
        ),
    ],
    ("GET", DEVICES): [
        (get(DEVICES), own_devices_only),
        (get(DEVICES, test_only=True), empty_list),
        (
            lambda c: c.client.get(
                DEVICES, params={"org_id": c.world.hospital_b}, headers=c.headers
            ),
            empty_list,
        ),
        (
            lambda c: c.client.get(DEVICES, params={"site_id": c.world.site_b}, headers=c.headers),
            empty_list,
        ),
    ],
    ("GET", f"{DEVICES}/{{device_id}}"): [(get(_b_device), GONE)],
    ("PATCH", f"{DEVICES}/{{device_id}}"): [
        (send("PATCH", _b_device, {"tags": ["mole"]}), GONE),
        (
            lambda c: c.client.patch(
                _b_device(c), json={"site_id": c.world.site_a}, headers=c.headers
            ),
            GONE,
        ),
    ],
    ("GET", f"{DEVICES}/{{device_id}}/versions"): [
        (get(lambda c: f"{_b_device(c)}/versions"), GONE)
    ],
    ("POST", f"{DEVICES}/import"): [
        (
            _post_csv(
                "serial,model,hardware_revision,hospital\n"
                f"MOLE-2,{MODEL},B,Bayview Medical Center\n"
            ),
            denied(403),
        )
    ],
    ("GET", f"{DEVICES}/fhir"): [
        (get(f"{DEVICES}/fhir", version="R5"), own_bundle_only),
        (get(f"{DEVICES}/fhir", version="R4B"), own_bundle_only),
        (
            lambda c: c.client.get(
                f"{DEVICES}/fhir", params={"hospital_id": c.world.hospital_b}, headers=c.headers
            ),
            GONE,
        ),
    ],
    ("POST", f"{DEVICES}/{{device_id}}/reports"): [
        (send("POST", lambda c: f"{_b_device(c)}/reports", {"report": {}}), denied(403, 404)),
    ],
    ("POST", "/api/v1/enroll"): [
        (send("POST", "/api/v1/enroll", {"token": "mfe_guess", "public_key": A_KEY}), denied(401)),
    ],
    ("GET", MODELS): [(get(MODELS), catalogue_readable)],
    ("POST", MODELS): [
        (send("POST", MODELS, {"name": "MOLE-9", "display_name": "Mole"}), denied(403))
    ],
    ("GET", f"{MODELS}/{{name}}"): [(get(f"{MODELS}/{MODEL}"), catalogue_readable)],
    ("PATCH", f"{MODELS}/{{name}}"): [
        (send("PATCH", f"{MODELS}/{MODEL}", {"supported_from_version_number": 9}), denied(403))
    ],
    ("POST", f"{MODELS}/{{name}}/revisions"): [
        (send("POST", f"{MODELS}/{MODEL}/revisions", {"name": "Z"}), denied(403))
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """A second B device (site, test flag, UDI, tag set by B's admin) and one device of A."""
    root = login(client, "root")
    created = client.post(
        DEVICES,
        json={
            **NEW_DEVICE,
            "serial": SECRET_SERIAL,
            "org_id": world.hospital_b,
            "site_id": world.site_b,
            "is_test_device": True,
            "udi": f"(01){MODEL_GTIN}(10){SECRET_LOT}(21){SECRET_SERIAL}",
        },
        headers=root,
    )
    assert created.status_code == 201, created.text
    tagged = client.patch(
        f"{DEVICES}/{created.json()['device_id']}",
        json={"tags": [SECRET_TAG]},
        headers=login(client, "admin.b"),
    )
    assert tagged.status_code == 200, tagged.text
    own = client.post(
        DEVICES,
        json={**NEW_DEVICE, "serial": A_SERIAL, "org_id": world.hospital_a},
        headers=root,
    )
    assert own.status_code == 201, own.text
