"""Downtime and CMMS reports over HTTP: devices report finished installs through the report
route, staff read the reports; hospitals see only their own rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import pytest

from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from tests.api.helpers import TestClient, assert_problem
from tests.builders import World
from tests.fleet.downtime_support import T0, Dev, document, enrolled

DOWNTIME = "/api/v1/reports/downtime"
CMMS = "/api/v1/reports/cmms"
Auth = Callable[[str], dict[str, str]]


def post(client: TestClient, dev: Dev, signed: bytes) -> None:
    response = client.post(
        f"/api/v1/devices/{dev.device_id}/reports",
        content=signed,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def devices(
    client: TestClient, runtime: Runtime, world: World, distribution: Distribution
) -> tuple[Dev, Dev]:
    """A-1 (Main Campus) committed in 12 min; B-1 (North) rolled back after 3 min, 2 days on."""
    a1 = enrolled(runtime, world, "A-1", site_id=world.site_a)
    b1 = enrolled(runtime, world, "B-1", org_id=world.hospital_b, site_id=world.site_b)
    for dev in (a1, b1):
        post(client, dev, document(dev, at=T0 - timedelta(days=1)))
    post(client, a1, document(a1, outcome="committed", left=T0, minutes=12))
    later = T0 + timedelta(days=2)
    post(client, b1, document(b1, outcome="rolled_back", left=later, minutes=3))
    return a1, b1


def test_downtime_by_site_for_the_manufacturer(
    client: TestClient, auth: Auth, devices: tuple[Dev, Dev]
) -> None:
    response = client.get(DOWNTIME, params={"group_by": "site"}, headers=auth("root"))
    assert response.status_code == 200, response.text
    rows = {(r["hospital"], r["label"]): r for r in response.json()}
    assert set(rows) == {("Bayview Medical Center", "North"), ("St. Anna Hospital", "Main Campus")}
    main = rows["St. Anna Hospital", "Main Campus"]
    assert (main["installs"], main["succeeded"], main["success_rate"]) == (1, 1, 1.0)
    assert (main["downtime_minutes_total"], main["downtime_minutes_p95"]) == (12.0, 12.0)
    north = rows["Bayview Medical Center", "North"]
    assert (north["rolled_back"], north["success_rate"], north["downtime_minutes_median"]) == (
        1,
        0.0,
        3.0,
    )


def test_a_hospital_reads_only_its_own_rows(
    client: TestClient, auth: Auth, world: World, devices: tuple[Dev, Dev]
) -> None:
    for group_by in ("hospital", "site", "model", "release"):
        response = client.get(DOWNTIME, params={"group_by": group_by}, headers=auth("biomed.a"))
        assert response.status_code == 200, response.text
        assert sum(row["installs"] for row in response.json()) == 1
        assert "Bayview" not in response.text
        assert "North" not in response.text
    other = client.get(
        DOWNTIME,
        params={"group_by": "site", "hospital_id": world.hospital_b},
        headers=auth("biomed.a"),
    )
    assert_problem(other, 404)
    csv_text = client.get(CMMS, headers=auth("biomed.a")).text
    assert "B-1" not in csv_text
    assert "Bayview" not in csv_text


def test_the_period_and_bad_parameters(
    client: TestClient, auth: Auth, devices: tuple[Dev, Dev]
) -> None:
    march_8 = client.get(
        DOWNTIME,
        params={"group_by": "hospital", "since": "2026-03-08", "until": "2026-03-08"},
        headers=auth("root"),
    )
    assert {r["label"]: r["installs"] for r in march_8.json()} == {
        "Bayview Medical Center": 0,
        "St. Anna Hospital": 0,
    }
    march_9 = client.get(
        DOWNTIME,
        params={"group_by": "hospital", "since": "2026-03-09T00:00:00+00:00"},
        headers=auth("root"),
    )
    assert {r["label"]: r["installs"] for r in march_9.json()}["Bayview Medical Center"] == 1
    for params in (
        {"group_by": "department"},
        {"group_by": "site", "since": "yesterday"},
        {"group_by": "site", "since": "2026-03-09T00:00"},
        {"group_by": "site", "since": "2026-03-09", "until": "2026-03-01"},
    ):
        assert_problem(client.get(DOWNTIME, params=params, headers=auth("root")), 422)
    assert_problem(client.get(DOWNTIME, params={"group_by": "site"}), 401)


def test_the_cmms_export_is_csv(client: TestClient, auth: Auth, devices: tuple[Dev, Dev]) -> None:
    response = client.get(CMMS, headers=auth("root"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    header, *rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert header[:3] == ["work_order_id", "hospital", "site"]
    assert [row[header.index("device_serial")] for row in rows] == ["A-1", "B-1"]
    assert [row[header.index("site_timezone")] for row in rows] == [
        "Europe/Berlin",
        "America/New_York",
    ]
    only_b = client.get(CMMS, params={"since": "2026-03-08"}, headers=auth("root"))
    assert len(only_b.text.splitlines()) == 2
    assert_problem(client.get(CMMS, params={"until": "soon"}, headers=auth("root")), 422)
