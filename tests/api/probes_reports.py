"""Tenant-isolation probes for the reports routes (merged into ``test_isolation.PROBES``).

Downtime and CMMS reports cover one hospital for hospital staff: hospital A's admin and biomed
get A's rows only (never B's numbers, names, serials or the device's words), whatever they
group by, and 404 when they ask for hospital B. ``create_objects`` enrolls a device of B (in a
department of its own) that reports a finished install over HTTP, and checks that the
manufacturer sees it; A's only device (``probes_fleet``) has reported nothing, so A's rows
must count no install at all.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import ReportContent, ReportTarget, StatusReport, sign_report
from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Call, Ctx, Expect, Probes, denied, get
from tests.builders import MODEL, World, create_distribution

DOWNTIME = "/api/v1/reports/downtime"
CMMS = "/api/v1/reports/cmms"
SECRET_SERIAL = "BAYVIEW-REPORTED-3"
SECRET_DEPARTMENT = "Bayview Secret Recovery"
SECRET_DETAIL = "bayview-secret-self-test-note"
SECRETS: tuple[str, ...] = (SECRET_SERIAL, SECRET_DEPARTMENT, SECRET_DETAIL)
GONE = denied(404)
T0 = datetime(2026, 3, 7, 7, 0, tzinfo=UTC)


def a_rows_only(_ctx: Ctx, response: httpx.Response) -> None:
    """Rows of A alone, none of which counts B's install or B's unsupported devices."""
    assert response.status_code == 200, response.text
    rows = response.json()
    assert {row["hospital"] for row in rows} <= {"St. Anna Hospital", None}
    assert sum(row["installs"] for row in rows) == 0
    assert sum(row["downtime_minutes_total"] for row in rows) == 0


def no_work_orders(_ctx: Ctx, response: httpx.Response) -> None:
    """The CSV header and no work order (A's device never reported an install)."""
    assert response.status_code == 200, response.text
    header, *rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert header[0] == "work_order_id"
    assert rows == []


def _b_hospital(path: str, **params: str) -> tuple[Call, Expect]:
    def call(c: Ctx) -> httpx.Response:
        query = {**params, "hospital_id": str(c.world.hospital_b)}
        response: httpx.Response = c.client.get(path, params=query, headers=c.headers)
        return response

    return call, GONE


PROBES: Probes = {
    ("GET", DOWNTIME): [
        (get(DOWNTIME, group_by="hospital"), a_rows_only),
        (get(DOWNTIME, group_by="site"), a_rows_only),
        (get(DOWNTIME, group_by="model"), a_rows_only),
        (get(DOWNTIME, group_by="release"), a_rows_only),
        _b_hospital(DOWNTIME, group_by="site"),
    ],
    ("GET", CMMS): [
        (get(CMMS), no_work_orders),
        (get(CMMS, since="2026-03-01", until="2026-03-31"), no_work_orders),
        _b_hospital(CMMS),
    ],
}


def _report(client: TestClient, device_id: str, key: DeviceIdentity) -> None:
    content = ReportContent(
        "b", "4.3.0", 430, "committed", "committed", SECRET_DETAIL,
        ReportTarget(f"{MODEL}/ip100-4.3.0.img", "4.3.0", 430, "cd" * 32),
        in_clinical_use=False, left_service_at=T0,
        returned_to_service_at=T0 + timedelta(minutes=45),
    )  # fmt: skip
    document = sign_report(StatusReport(device_id, 1, T0 + timedelta(hours=1), content), key)
    response = client.post(
        f"/api/v1/devices/{device_id}/reports",
        content=document,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


def _device(client: TestClient, body: dict[str, object], root: dict[str, str]) -> None:
    created = client.post("/api/v1/devices", json=body, headers=root)
    assert created.status_code == 201, created.text
    key = DeviceIdentity(Ed25519PrivateKey.generate())
    enrolled = client.post(
        "/api/v1/enroll",
        json={
            "token": created.json()["enrollment_token"],
            "public_key": key.public_key_bytes.hex(),
        },
    )
    assert enrolled.status_code == 200, enrolled.text
    _report(client, created.json()["device_id"], key)


def create_objects(client: TestClient, world: World) -> None:
    """B's device (in B's secret department) with a finished install the manufacturer sees."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    if not runtime.distribution.exists():
        create_distribution(runtime)  # enrollment needs the director
    root = login(client, "root")
    department = client.post(
        f"/api/v1/sites/{world.site_b}/departments", json={"name": SECRET_DEPARTMENT}, headers=root
    )
    assert department.status_code == 201, department.text
    _device(
        client,
        {
            "model": MODEL,
            "hardware_revision": "B",
            "serial": SECRET_SERIAL,
            "org_id": world.hospital_b,
            "site_id": world.site_b,
            "department_id": department.json()["id"],
        },
        root,
    )
    seen = client.get(DOWNTIME, params={"group_by": "site"}, headers=root)
    assert sum(row["installs"] for row in seen.json()) == 1, seen.text
    assert SECRET_SERIAL in client.get(CMMS, headers=root).text
