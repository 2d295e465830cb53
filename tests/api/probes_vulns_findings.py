"""Tenant-isolation probes for the findings routes (merged into ``PROBES``).

Findings are manufacturer-internal: a hospital user may neither read them (with or without
filters, inactive ones included) nor trigger matching; both answer 403 whatever is asked.
"""

from __future__ import annotations

from tests.api.helpers import TestClient
from tests.api.isolation_support import Probes, denied, get, send
from tests.builders import World

V = "/api/v1/vulns"
SECRETS: tuple[str, ...] = ()
INTERNAL = denied(403)

PROBES: Probes = {
    ("GET", f"{V}/findings"): [
        (get(f"{V}/findings"), INTERNAL),
        (
            get(
                f"{V}/findings",
                release_model="IP-100",
                release_version="4.2.0",
                vulnerability="CVE-2014-0160",
                include_inactive=True,
            ),
            INTERNAL,
        ),
    ],
    ("POST", f"{V}/match"): [
        (send("POST", f"{V}/match", {}), INTERNAL),
        (
            send("POST", f"{V}/match", {"release_model": "IP-100", "release_version": "4.2.0"}),
            INTERNAL,
        ),
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """Nothing: the probes are refused before any object is looked up."""
    del client, world
