"""Tenant-isolation probes for the change workflow and assessment routes.

The manufacturer's problem report, software item, PCCP and change request CR-1 (created by
``test_isolation``'s fixture) are the targets: hospital staff must get 404 or nothing.
"""

from __future__ import annotations

from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Probes, denied, empty_list, get, send
from tests.builders import World

SECRETS: tuple[str, ...] = ("Secret pump defect", "secret-firmware-core", "Secret PCCP")

CR = "/api/v1/change-requests/CR-1"
PLAN = {
    "name": "Secret PCCP",
    "device_model": "IP-100",
    "modifications": [{"id": "retrain", "description": "retrain on new data"}],
    "criteria": [{"metric": "auc", "comparator": ">=", "threshold": 0.9}],
}

PROBES: Probes = {
    ("POST", "/api/v1/change-requests/{key}/classification"): [
        (
            send(
                "POST",
                f"{CR}/classification",
                {
                    "change_class": "minor",
                    "device_model": "IP-100",
                    "software_items": ["secret-firmware-core"],
                },
            ),
            denied(404),
        )
    ],
    ("POST", "/api/v1/change-requests/{key}/transitions"): [
        (send("POST", f"{CR}/transitions", {"state": "withdrawn"}), denied(404))
    ],
    ("POST", "/api/v1/change-requests/{key}/problem-reports"): [
        (send("POST", f"{CR}/problem-reports", {"problem_report": "PR-1"}), denied(404))
    ],
    ("GET", "/api/v1/software-items"): [(get("/api/v1/software-items"), empty_list)],
    ("POST", "/api/v1/software-items"): [
        (
            send("POST", "/api/v1/software-items", {"name": "mole", "safety_class": "A"}),
            denied(404),
        )
    ],
    ("GET", "/api/v1/problem-reports"): [(get("/api/v1/problem-reports"), empty_list)],
    ("POST", "/api/v1/problem-reports"): [
        (
            send(
                "POST",
                "/api/v1/problem-reports",
                {"title": "mole", "source": "complaint", "criticality": "low"},
            ),
            denied(404),
        )
    ],
    ("GET", "/api/v1/problem-reports/{key}"): [(get("/api/v1/problem-reports/PR-1"), denied(404))],
    ("PATCH", "/api/v1/problem-reports/{key}"): [
        (send("PATCH", "/api/v1/problem-reports/PR-1", {"investigation": "x"}), denied(404))
    ],
    ("PUT", "/api/v1/change-requests/{key}/answers/{question_id}"): [
        (
            send("PUT", f"{CR}/answers/fda-q4", {"value": False, "justification": "x"}),
            denied(404),
        )
    ],
    ("DELETE", "/api/v1/change-requests/{key}/answers/{question_id}"): [
        (send("DELETE", f"{CR}/answers/fda-q4", {}), denied(404))
    ],
    ("GET", "/api/v1/change-requests/{key}/questions"): [(get(f"{CR}/questions"), denied(404))],
    ("POST", "/api/v1/change-requests/{key}/assessments"): [
        (send("POST", f"{CR}/assessments", {}), denied(404))
    ],
    ("GET", "/api/v1/change-requests/{key}/assessments/latest"): [
        (get(f"{CR}/assessments/latest"), denied(404))
    ],
    ("GET", "/api/v1/change-requests/{key}/assessments/latest/memo"): [
        (get(f"{CR}/assessments/latest/memo"), denied(404))
    ],
    ("POST", "/api/v1/change-requests/{key}/assessments/latest/signatures"): [
        (
            send(
                "POST",
                f"{CR}/assessments/latest/signatures",
                {"password": "x", "meaning": "approved"},
            ),
            denied(404),
        )
    ],
    ("GET", "/api/v1/pccp-plans"): [(get("/api/v1/pccp-plans"), empty_list)],
    ("POST", "/api/v1/pccp-plans"): [
        (send("POST", "/api/v1/pccp-plans", {"plan": {**PLAN, "name": "mole"}}), denied(404))
    ],
    ("PUT", "/api/v1/change-requests/{key}/evaluation"): [
        (
            send(
                "PUT",
                f"{CR}/evaluation",
                {"plan": "Secret PCCP", "evaluation": {"modification_id": "retrain"}},
            ),
            denied(404),
        )
    ],
    ("POST", "/api/v1/clearances"): [
        (
            send(
                "POST",
                "/api/v1/clearances",
                {
                    "device_model": "IP-100",
                    "reference": "K000001",
                    "version": "1",
                    "cleared_at": "2026-01-01T00:00:00+00:00",
                },
            ),
            denied(404),
        )
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """A problem report, a software item and a PCCP of the manufacturer."""
    del world
    qa = login(client, "qa")
    created = [
        client.post(
            "/api/v1/problem-reports",
            json={"title": "Secret pump defect", "source": "complaint", "criticality": "high"},
            headers=qa,
        ),
        client.post(
            "/api/v1/software-items",
            json={"name": "secret-firmware-core", "safety_class": "C"},
            headers=qa,
        ),
        client.post("/api/v1/pccp-plans", json={"plan": PLAN}, headers=qa),
    ]
    for response in created:
        assert response.status_code == 201, response.text
