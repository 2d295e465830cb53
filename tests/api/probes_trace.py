"""Tenant-isolation probes for the trace routes (merged into ``test_isolation.PROBES``).

Every route of the domain needs a probe here: hospital A's admin and biomed call it against the
manufacturer's objects (a requirement, a test, a run) and must be refused or see nothing.
"""

from __future__ import annotations

from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Probes, denied, empty_list, get, send
from tests.builders import World

T = "/api/v1/trace"
REQ = f"{T}/requirements/SRS-1"
TEST_ID = "acme.pump::test_rate"  # probed by id (an error echoes the path), so not a secret
JUNIT = (
    b'<testsuite name="s"><testcase classname="acme.secret_trace_test" name="test_pump">'
    b'<properties><property name="requirements" value="SRS-1"/></properties>'
    b'<failure message="Acme-secret failure"/></testcase>'
    b'<testcase classname="acme.pump" name="test_rate">'
    b'<properties><property name="requirements" value="SRS-1"/></properties></testcase>'
    b"</testsuite>"
)

SECRETS: tuple[str, ...] = ("Acme-secret requirement", "secret_trace_test", "Acme-secret failure")

NEW_REQ = {"key": "SRS-2", "title": "Mole", "text": "x", "kind": "safety", "software_item": "p"}

PROBES: Probes = {
    ("GET", f"{T}/requirements"): [
        (get(f"{T}/requirements"), empty_list),
        (get(f"{T}/requirements", include_retired=True), empty_list),
    ],
    ("POST", f"{T}/requirements"): [(send("POST", f"{T}/requirements", NEW_REQ), denied(404))],
    ("GET", f"{T}/requirements/{{key}}"): [(get(REQ), denied(404))],
    ("PATCH", f"{T}/requirements/{{key}}"): [(send("PATCH", REQ, {"text": "Moled"}), denied(404))],
    ("POST", f"{T}/requirements/{{key}}/retire"): [
        (send("POST", f"{REQ}/retire", {}), denied(404))
    ],
    ("GET", f"{T}/tests"): [(get(f"{T}/tests"), empty_list)],
    ("PUT", f"{T}/tests/{{key:path}}/level"): [
        (send("PUT", f"{T}/tests/{TEST_ID}/level", {"level": "unit"}), denied(404))
    ],
    ("POST", f"{T}/links/tests"): [
        (send("POST", f"{T}/links/tests", {"requirement": "SRS-1", "test": "x"}), denied(404))
    ],
    ("DELETE", f"{T}/links/tests"): [
        (
            lambda c: c.client.delete(
                f"{T}/links/tests",
                params={"requirement": "SRS-1", "test": TEST_ID},
                headers=c.headers,
            ),
            denied(404),
        )
    ],
    ("POST", f"{T}/links/controls"): [
        (
            send("POST", f"{T}/links/controls", {"control": "RC-1", "requirement": "SRS-1"}),
            denied(404),
        )
    ],
    ("DELETE", f"{T}/links/controls"): [
        (
            lambda c: c.client.delete(
                f"{T}/links/controls",
                params={"control": "RC-1", "requirement": "SRS-1"},
                headers=c.headers,
            ),
            denied(404),
        )
    ],
    ("POST", f"{T}/runs"): [
        (
            lambda c: c.client.post(
                f"{T}/runs",
                params={"build_id": "b1"},
                content=JUNIT,
                headers={**c.headers, "Content-Type": "application/xml"},
            ),
            denied(404),
        )
    ],
    ("GET", f"{T}/runs"): [
        (get(f"{T}/runs"), empty_list),
        (get(f"{T}/runs", build_id="b1"), empty_list),
    ],
    ("GET", f"{T}/gaps"): [(get(f"{T}/gaps", build_id="b1"), denied(404))],
    ("GET", f"{T}/regression/{{change_key}}"): [
        (get(f"{T}/regression/CR-1", safety_class="C"), denied(404))
    ],
    ("GET", f"{T}/matrix"): [
        (get(f"{T}/matrix", build_id="b1"), denied(404)),
        (get(f"{T}/matrix", build_id="b1", format="csv"), denied(404)),
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """A requirement (SRS-1, under CR-1), two tests linked to it, a run of build b1."""
    engineer = login(client, "eng")
    created = client.post(
        f"{T}/requirements",
        json={
            "key": "SRS-1",
            "title": "Acme-secret requirement",
            "text": "Acme-secret requirement text",
            "kind": "safety",
            "software_item": "pump",
            "change_request": "CR-1",
        },
        headers=engineer,
    )
    assert created.status_code == 201, created.text
    run = client.post(
        f"{T}/runs",
        params={"build_id": "b1"},
        content=JUNIT,
        headers={**engineer, "Content-Type": "application/xml"},
    )
    assert run.status_code == 201, run.text
