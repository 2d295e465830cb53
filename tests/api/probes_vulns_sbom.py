"""Tenant-isolation probes for the SBOM routes (merged into ``test_isolation.PROBES``).

Hospital users read the SBOM of released releases only: the manufacturer's draft (with a
component name hospitals must never see) is "not found", its CycloneDX export too, and an
import is refused (403) before the body is read, whatever the release.
"""

from __future__ import annotations

from typing import Any

from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Probes, denied, get, send
from tests.builders import World

BASE = "/api/v1/vulns/releases"
PATTERN = f"{BASE}/{{model}}/{{version}}/sbom"
VERSION = "7.7.7-sbom"
DRAFT = f"{BASE}/IP-100/{VERSION}/sbom"
SECRET_COMPONENT = "acme-internal-crypto-shim"
SECRETS: tuple[str, ...] = (SECRET_COMPONENT,)
DOCUMENT: dict[str, Any] = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "components": [
        {
            "bom-ref": "shim",
            "type": "library",
            "name": SECRET_COMPONENT,
            "version": "0.9",
            "purl": f"pkg:generic/{SECRET_COMPONENT}@0.9",
        }
    ],
}

PROBES: Probes = {
    ("POST", PATTERN): [
        (send("POST", DRAFT, DOCUMENT), denied(403)),
        (send("POST", f"{BASE}/IP-100/4.2.0/sbom", DOCUMENT), denied(403)),
    ],
    ("GET", PATTERN): [(get(DRAFT), denied(404)), (get(DRAFT, search="shim"), denied(404))],
    ("GET", f"{PATTERN}/cyclonedx"): [(get(f"{DRAFT}/cyclonedx"), denied(404))],
}


def create_objects(client: TestClient, world: World) -> None:
    """A manufacturer draft IP-100 7.7.7-sbom whose imported SBOM names a secret component."""
    del world
    engineer = login(client, "eng")
    created = client.post(
        "/api/v1/releases",
        json={"model": "IP-100", "version": VERSION, "version_number": 7_770_001},
        headers=engineer,
    )
    assert created.status_code == 201, created.text
    imported = client.post(DRAFT, json=DOCUMENT, headers=engineer)
    assert imported.status_code == 201, imported.text
