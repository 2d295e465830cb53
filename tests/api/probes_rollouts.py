"""Tenant-isolation probes for the campaign routes (merged into ``test_isolation.PROBES``).

Campaigns belong to the manufacturer: hospital staff get 404 for a real campaign of the
manufacturer (and for creating one) and an empty list, and never see its name.
"""

from __future__ import annotations

from medfleet.runtime import Runtime
from tests.api.helpers import PASSWORD, TestClient, login
from tests.api.isolation_support import Probes, denied, empty_list, get, send
from tests.builders import MODEL, World, create_distribution
from tests.releases.test_release_support import Env
from tests.rollouts.campaign_support import Camp

BASE = "/api/v1/campaigns"
ONE = f"{BASE}/CMP-1"
SECRET_NAME = "Manufacturer-secret campaign"
SECRETS: tuple[str, ...] = (SECRET_NAME,)
GONE = denied(404)
NEW = {
    "name": "Mole campaign",
    "model": MODEL,
    "version": "5.0.0",
    "policy": {"phases": [{"percent": 100}]},
}

PROBES: Probes = {
    ("GET", BASE): [(get(BASE), empty_list), (get(BASE, state="draft"), empty_list)],
    ("POST", BASE): [(send("POST", BASE, NEW), GONE)],
    ("GET", f"{BASE}/{{key}}"): [(get(ONE), GONE), (get(f"{BASE}/1"), GONE)],
    ("GET", f"{BASE}/{{key}}/devices"): [(get(f"{ONE}/devices"), GONE)],
    ("POST", f"{BASE}/{{key}}/schedule"): [(send("POST", f"{ONE}/schedule", {}), GONE)],
    ("POST", f"{BASE}/{{key}}/start"): [(send("POST", f"{ONE}/start", {}), GONE)],
    ("POST", f"{BASE}/{{key}}/pause"): [(send("POST", f"{ONE}/pause", {"reason": "x"}), GONE)],
    ("POST", f"{BASE}/{{key}}/resume"): [(send("POST", f"{ONE}/resume", {}), GONE)],
    ("POST", f"{BASE}/{{key}}/abort"): [(send("POST", f"{ONE}/abort", {"reason": "x"}), GONE)],
    ("POST", f"{BASE}/{{key}}/rollback"): [(send("POST", f"{ONE}/rollback", {}), GONE)],
}


def create_objects(client: TestClient, world: World) -> None:
    """A released IP-100 5.0.0 and the manufacturer's draft campaign CMP-1 rolling it out."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    if not runtime.distribution.exists():
        create_distribution(runtime)
    keys = runtime.distribution.keys
    if not keys.has_user_key("qa"):
        keys.generate_user_key("qa", PASSWORD)
    runtime.distribution.image.add_model(
        MODEL,
        [keys.user_public_key("qa")],
        1,
        targets_signers=[keys.unlock_user_key("admin", PASSWORD)],
        model_signers=[keys.unlock_user_key("qa", PASSWORD)],
    )
    Camp(Env(runtime, world), model_held=True).release("5.0.0", 500)
    created = client.post(
        BASE,
        json={**NEW, "name": SECRET_NAME},
        headers=login(client, "root"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["key"] == "CMP-1"
