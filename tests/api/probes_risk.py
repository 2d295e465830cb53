"""Tenant-isolation probes for the risk routes (merged into ``test_isolation.PROBES``).

Every route of the domain needs a probe here: hospital A's admin and biomed call it against the
manufacturer's (or hospital B's) objects and must be refused or see nothing.
"""

from __future__ import annotations

from medfleet.db.engine import transaction
from medfleet.risk import service
from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Probes, denied, empty_list, get, send
from tests.builders import World

RISK = "/api/v1/risk"
DELTA = f"{RISK}/deltas/CR-1"
SECRETS: tuple[str, ...] = (
    "Acme secret hazard",
    "Silent occlusion sequence",
    "Acme secret interlock",
    "Acme secret proposal",
)
MATRIX = {
    "severity_names": ["a", "b", "c", "d", "e"],
    "probability_names": ["v", "w", "x", "y", "z"],
    "table": [["acceptable"] * 5] * 5,
    "significant_harm_from": 5,
}

PROBES: Probes = {
    ("GET", f"{RISK}/matrix"): [(get(f"{RISK}/matrix"), denied(404))],
    ("PUT", f"{RISK}/matrix"): [(send("PUT", f"{RISK}/matrix", MATRIX), denied(404))],
    ("GET", f"{RISK}/items"): [(get(f"{RISK}/items"), empty_list)],
    ("GET", f"{RISK}/items/{{key}}"): [
        (get(f"{RISK}/items/H-1"), denied(404)),
        (get(f"{RISK}/items/RC-1"), denied(404)),
    ],
    ("GET", f"{RISK}/file"): [(get(f"{RISK}/file"), denied(404))],
    ("GET", f"{RISK}/deltas/{{cr_key}}"): [(get(DELTA), denied(404))],
    ("GET", f"{RISK}/deltas/{{cr_key}}/analysis"): [(get(f"{DELTA}/analysis"), denied(404))],
    ("POST", f"{RISK}/deltas/{{cr_key}}/entries"): [
        (send("POST", f"{DELTA}/entries", {"action": "remove", "key": "H-1"}), denied(404)),
        (
            send(
                "POST",
                f"{DELTA}/entries",
                {"action": "modify", "key": "H-2", "fields": {"title": "Moled"}},
            ),
            denied(404),
        ),
    ],
    ("DELETE", f"{RISK}/deltas/{{cr_key}}/entries/{{key}}"): [
        (lambda c: c.client.delete(f"{DELTA}/entries/H-2", headers=c.headers), denied(404)),
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """A released risk file (H-1, HS-1, RC-1) and a pending proposal (H-2) in CR-1."""
    engineer = login(client, "eng")

    def propose(body: dict[str, object]) -> None:
        response = client.post(f"{DELTA}/entries", json=body, headers=engineer)
        assert response.status_code == 201, response.text

    propose({"action": "add", "kind": "hazard", "fields": {"title": "Acme secret hazard"}})
    propose(
        {
            "action": "add",
            "kind": "situation",
            "fields": {
                "hazard": "H-1",
                "sequence": "Silent occlusion sequence",
                "harm": "Overdose",
                "severity": 4,
                "probability": 2,
            },
        }
    )
    propose(
        {
            "action": "add",
            "kind": "control",
            "fields": {
                "title": "Acme secret interlock",
                "kind": "inherent_safety_by_design",
                "situations": ["HS-1"],
            },
        }
    )
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with transaction(runtime.sessions) as session:
        change = service.change_in_org(session, world.admin.org_id, 1)
        service.apply_delta(session, runtime.audit, world.admin.org_id, change.id, "user:qa")
    # CR-1 is merged now; a second change request holds a pending proposal
    created = client.post(
        "/api/v1/change-requests", json={"title": "Second change"}, headers=engineer
    )
    assert created.status_code == 201, created.text
    response = client.post(
        f"{RISK}/deltas/CR-2/entries",
        json={"action": "add", "kind": "hazard", "fields": {"title": "Acme secret proposal"}},
        headers=engineer,
    )
    assert response.status_code == 201, response.text
