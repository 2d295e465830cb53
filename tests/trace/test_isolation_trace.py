"""The trace probes on their own: every /api/v1/trace route has one, and each holds.

``tests/api/test_isolation.py`` runs them with every other domain's; this runs only ours, so a
trace leak shows up here even while another domain's routes still lack probes.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from medfleet.api.app import api_routes
from tests.api import probes_trace
from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Ctx
from tests.builders import World


def test_every_trace_route_has_a_probe(app: FastAPI) -> None:
    served = {(r.method, r.path) for r in api_routes(app, "/api/v1/trace")}
    assert served == set(probes_trace.PROBES)


@pytest.mark.parametrize("username", ["admin.a", "biomed.a"])
def test_hospital_staff_see_no_trace_record(
    app: FastAPI, client: TestClient, world: World, username: str
) -> None:
    created = client.post(
        "/api/v1/change-requests", json={"title": "c"}, headers=login(client, "eng")
    )
    assert created.status_code == 201
    probes_trace.create_objects(client, world)
    ctx = Ctx(client, world, login(client, username), 0, 0, "")
    for (method, path), probes in probes_trace.PROBES.items():
        for call, expect in probes:
            response = call(ctx)
            expect(ctx, response)
            for secret in probes_trace.SECRETS:
                assert secret not in response.text, f"{method} {path} leaks {secret!r}"
    engineer = login(client, "eng")
    still = client.get("/api/v1/trace/requirements/SRS-1", headers=engineer).json()
    assert (still["version"], still["retired"], still["tests"]) == (
        1,
        False,
        [probes_trace.TEST_ID, "acme.secret_trace_test::test_pump"],
    )
    assert len(client.get("/api/v1/trace/runs", headers=engineer).json()) == 1
