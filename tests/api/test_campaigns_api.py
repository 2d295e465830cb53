"""The campaign API on SQLite and PostgreSQL: create, read, devices, schedule, start, pause,
resume, abort and roll back; errors as problem+json."""

from __future__ import annotations

from typing import Any

from medfleet.rollouts.model import Urgency
from tests.api.helpers import TestClient, assert_problem, login
from tests.rollouts.campaign_support import Camp, camp

__all__ = ["camp"]

BASE = "/api/v1/campaigns"
NEW: dict[str, Any] = {
    "name": "Spring update",
    "model": "IP-100",
    "version": "4.2.0",
    "urgency": "critical",
    "selection": {"test_devices": "exclude"},
    "policy": {"phases": [{"cumulative_percent": 50}, {"cumulative_percent": 100}]},
}


def test_a_campaign_through_the_api(camp: Camp, client: TestClient) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    devices = camp.devices(4, world.site_a)
    root = login(client, "root")

    created = client.post(BASE, json=NEW, headers=root)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["key"], body["state"], body["devices"]) == ("CMP-1", "draft", 4)
    assert [p["phase"] for p in body["phases"]] == [0, 1, 2]
    assert body["allowed_actions"] == ["schedule", "abort"]
    listed = client.get(BASE, headers=root)
    assert [c["key"] for c in listed.json()] == ["CMP-1"]
    assert client.get(BASE, params={"state": "running"}, headers=root).json() == []

    started = client.post(f"{BASE}/CMP-1/start", headers=root)
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "running"
    camp.advance()
    phase_1 = client.get(f"{BASE}/CMP-1/devices", params={"phase": 1}, headers=root).json()
    assert phase_1
    assert {d["status"] for d in phase_1} == {"assigned"}
    assert {d["step_version"] for d in phase_1} == {"4.2.0"}
    everything = client.get(f"{BASE}/CMP-1/devices", headers=root).json()
    assert {d["device_id"] for d in everything} == {d.device_id for d in devices}
    page = client.get(f"{BASE}/CMP-1/devices", params={"limit": 1, "offset": 1}, headers=root)
    assert [d["device_id"] for d in page.json()] == [everything[1]["device_id"]]

    paused = client.post(f"{BASE}/CMP-1/pause", json={"reason": "hold on"}, headers=root)
    assert paused.status_code == 200, paused.text
    assert (paused.json()["state"], paused.json()["pause_reason"]) == ("paused", "hold on")
    assert all(camp.instruction(d) is None for d in devices)  # cleared right away
    resumed = client.post(f"{BASE}/CMP-1/resume", headers=root)
    assert resumed.json()["state"] == "running"
    camp.advance()
    for device in devices:
        if camp.instruction(device) is not None:
            camp.finish(device, "4.2.0")
    aborted = client.post(f"{BASE}/CMP-1/abort", json={"reason": "enough"}, headers=root)
    assert aborted.status_code == 200, aborted.text
    assert (aborted.json()["state"], aborted.json()["abort_reason"]) == ("aborted", "enough")

    back = client.post(f"{BASE}/CMP-1/rollback", json={}, headers=root)
    assert back.status_code == 201, back.text
    assert (back.json()["key"], back.json()["kind"]) == ("CMP-2", "rollback")
    assert back.json()["rollback_of"] == "CMP-1"
    assert back.json()["release"]["version"] == "4.1.0"
    scheduled = client.post(
        f"{BASE}/CMP-2/schedule", json={"at": "2026-01-16T07:00:00Z"}, headers=root
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["scheduled_for"] == "2026-01-16T07:00:00+00:00"


def test_errors_are_problems_and_change_nothing(camp: Camp, client: TestClient) -> None:
    world = camp.world
    camp.device(world.site_a)
    root = login(client, "root")
    bad = client.post(BASE, json={**NEW, "policy": {"phases": [{"percent": 0}]}}, headers=root)
    problem = assert_problem(bad, 422)
    assert problem["field"] == "phases[0].percent"
    bad_selection = client.post(BASE, json={**NEW, "selection": {"sites": [1]}}, headers=root)
    assert "unknown field" in assert_problem(bad_selection, 422)["detail"]
    assert_problem(client.post(BASE, json={**NEW, "version": "9.9.9"}, headers=root), 404)
    assert_problem(client.post(BASE, json=NEW, headers=login(client, "eng")), 403)
    assert client.get(BASE, headers=root).json() == []

    assert client.post(BASE, json=NEW, headers=root).status_code == 201
    assert_problem(client.post(f"{BASE}/CMP-1/resume", headers=root), 409)
    assert_problem(client.post(f"{BASE}/CMP-1/abort", json={"reason": " "}, headers=root), 422)
    assert_problem(client.get(f"{BASE}/CMP-9", headers=root), 404)
    assert_problem(client.get(f"{BASE}/nonsense", headers=root), 404)
    devices = client.get(f"{BASE}/CMP-1/devices", params={"status": "lost"}, headers=root)
    assert_problem(devices, 422)
    naive = client.post(f"{BASE}/CMP-1/schedule", json={"at": "2026-01-16T07:00"}, headers=root)
    assert_problem(naive, 422)
    assert client.get(f"{BASE}/CMP-1", headers=root).json()["state"] == "draft"

    biomed = login(client, "biomed.a")
    assert_problem(client.get(f"{BASE}/CMP-1", headers=biomed), 404)
    assert client.get(BASE, headers=biomed).json() == []
