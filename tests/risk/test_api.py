"""The risk routes over HTTP: matrix, proposals, delta and analysis, hospitals kept out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from medfleet.api.app import api_routes
from medfleet.db.engine import transaction
from medfleet.risk import service
from medfleet.risk.tables import RiskDeltaEntryRow, RiskMatrixRow
from medfleet.runtime import Runtime
from tests.api import probes_risk
from tests.api.helpers import TestClient, assert_problem, audit_count, count, login
from tests.api.isolation_support import Ctx
from tests.builders import World
from tests.risk.helpers import HAZARD, control, situation

Auth = Callable[[str], dict[str, str]]
RISK = "/api/v1/risk"


def _cr(client: TestClient, auth: Auth, title: str = "Occlusion fix") -> str:
    created = client.post("/api/v1/change-requests", json={"title": title}, headers=auth("eng"))
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def _propose(client: TestClient, headers: dict[str, str], cr: str, body: dict[str, Any]) -> Any:
    response = client.post(f"{RISK}/deltas/{cr}/entries", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_propose_analyse_merge_read(
    client: TestClient, runtime: Runtime, world: World, auth: Auth
) -> None:
    cr = _cr(client, auth)
    eng = auth("eng")
    _propose(client, eng, cr, {"action": "add", "kind": "hazard", "fields": HAZARD})
    _propose(client, eng, cr, {"action": "add", "kind": "situation", "fields": situation()})
    _propose(client, eng, cr, {"action": "add", "kind": "control", "fields": control("HS-1")})
    delta = _propose(
        client,
        auth("qa"),
        cr,
        {
            "action": "modify",
            "key": "hs-1",
            "fields": {"residual_probability": 1, "residual_severity": 4},
        },
    )
    assert [e["key"] for e in delta["entries"]] == ["H-1", "HS-1", "RC-1"]
    assert delta["open"] is True
    analysis = client.get(f"{RISK}/deltas/{cr}/analysis", headers=auth("aud")).json()
    assert analysis == delta["analysis"]
    assert analysis["situations"] == [
        {
            "key": "HS-1",
            "action": "added",
            "controls": ["RC-1"],
            "severity_before": None,
            "severity_after": 4,
            "probability_before": None,
            "probability_after": 3,
            "significant_harm": True,
            "mitigated_before": None,
            "mitigated_after": True,
        }
    ]
    assert analysis["controls"][0]["redundant"] is False
    assert client.get(f"{RISK}/items", headers=auth("eng")).json() == []
    with transaction(runtime.sessions) as session:
        change = service.change_in_org(session, world.admin.org_id, 1)
        service.apply_delta(session, runtime.audit, world.admin.org_id, change.id, "user:qa")
    items = client.get(f"{RISK}/items", headers=auth("aud")).json()
    assert [(i["key"], i["version"]) for i in items] == [("H-1", 1), ("HS-1", 1), ("RC-1", 1)]
    one = client.get(f"{RISK}/items/hs-1", headers=auth("aud")).json()
    assert one["residual_risk"]["severity_name"] == "critical"
    assert one["residual_risk"]["acceptability"] == "acceptable"
    assert client.get(f"{RISK}/file", headers=auth("aud")).json()["problems"] == []
    closed = client.get(f"{RISK}/deltas/{cr}", headers=auth("eng")).json()
    assert (closed["open"], closed["applied"]) == (False, True)
    assert_problem(
        client.post(
            f"{RISK}/deltas/{cr}/entries",
            json={"action": "remove", "key": "RC-1"},
            headers=eng,
        ),
        409,
    )


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"action": "add", "kind": "situation", "fields": situation("H-7")}, 422, "H-7"),
        ({"action": "add", "fields": HAZARD}, 422, "kind"),
        ({"action": "add", "kind": "hazard", "fields": {"title": "t", "harm": "x"}}, 422, "harm"),
        ({"action": "add", "kind": "situation", "fields": situation(severity=9)}, 422, ""),
        ({"action": "modify", "key": "H-1", "fields": {"title": HAZARD["title"]}}, 422, "nothing"),
        ({"action": "remove", "key": "H-9"}, 404, "H-9"),
        ({"action": "remove", "key": "H-1", "fields": {"title": "x"}}, 422, "no fields"),
        ({"action": "explode", "key": "H-1"}, 422, ""),
    ],
)
def test_bad_proposals(
    client: TestClient,
    runtime: Runtime,
    auth: Auth,
    body: dict[str, Any],
    status: int,
    detail: str,
) -> None:
    cr = _cr(client, auth)
    _propose(client, auth("eng"), cr, {"action": "add", "kind": "hazard", "fields": HAZARD})
    events, entries = audit_count(runtime), count(runtime, RiskDeltaEntryRow.id)
    problem = assert_problem(
        client.post(f"{RISK}/deltas/{cr}/entries", json=body, headers=auth("eng")), status
    )
    assert detail in problem["detail"]
    assert (audit_count(runtime), count(runtime, RiskDeltaEntryRow.id)) == (events, entries)


def test_withdraw_and_roles(client: TestClient, runtime: Runtime, auth: Auth) -> None:
    cr = _cr(client, auth)
    _propose(client, auth("eng"), cr, {"action": "add", "kind": "hazard", "fields": HAZARD})
    assert_problem(
        client.post(
            f"{RISK}/deltas/{cr}/entries",
            json={"action": "add", "kind": "hazard", "fields": HAZARD},
            headers=auth("aud"),
        ),
        403,
    )
    assert_problem(client.delete(f"{RISK}/deltas/{cr}/entries/H-3", headers=auth("eng")), 404)
    gone = client.delete(f"{RISK}/deltas/{cr}/entries/H-1", headers=auth("eng"))
    assert gone.status_code == 204, gone.text
    assert client.get(f"{RISK}/deltas/{cr}", headers=auth("eng")).json()["entries"] == []
    assert_problem(client.get(f"{RISK}/deltas/CR-99", headers=auth("eng")), 404)


def test_matrix(client: TestClient, runtime: Runtime, auth: Auth) -> None:
    default = client.get(f"{RISK}/matrix", headers=auth("aud")).json()
    assert default["severity_names"][4] == "catastrophic"
    assert default["table"][4][2] == "unacceptable"  # catastrophic x occasional
    assert default["significant_harm_from"] == 3
    custom = {**probes_risk.MATRIX, "significant_harm_from": 2}
    assert_problem(client.put(f"{RISK}/matrix", json=custom, headers=auth("eng")), 403)
    put = client.put(f"{RISK}/matrix", json=custom, headers=auth("qa"))
    assert put.status_code == 200, put.text
    assert client.get(f"{RISK}/matrix", headers=auth("eng")).json() == custom
    for bad in (
        {**custom, "severity_names": ["a", "a", "b", "c", "d"]},
        {**custom, "table": [["acceptable"] * 4] * 5},
        {**custom, "probability_names": ["", "w", "x", "y", "z"]},
        {**custom, "significant_harm_from": 6},
    ):
        assert_problem(client.put(f"{RISK}/matrix", json=bad, headers=auth("root")), 422)
    assert count(runtime, RiskMatrixRow.id) == 1


def test_hospitals_see_nothing(client: TestClient, auth: Auth) -> None:
    cr = _cr(client, auth)
    _propose(client, auth("eng"), cr, {"action": "add", "kind": "hazard", "fields": HAZARD})
    for user in ("admin.a", "biomed.a"):
        assert client.get(f"{RISK}/items", headers=auth(user)).json() == []
        for path in ("matrix", "file", f"deltas/{cr}", f"deltas/{cr}/analysis", "items/H-1"):
            assert_problem(client.get(f"{RISK}/{path}", headers=auth(user)), 404)


@pytest.mark.parametrize("username", ["admin.a", "biomed.a"])
def test_risk_isolation_probes(
    app: FastAPI, client: TestClient, runtime: Runtime, world: World, username: str
) -> None:
    """This domain's probes alone (``test_isolation`` runs them with every other domain's)."""
    client.post(
        "/api/v1/change-requests",
        json={"title": "Manufacturer change"},
        headers=login(client, "eng"),
    )
    probes_risk.create_objects(client, world)
    served = {(r.method, r.path) for r in api_routes(app) if r.path.startswith(RISK)}
    assert served == set(probes_risk.PROBES)
    ctx = Ctx(client, world, login(client, username), 0, 0, "")
    events = audit_count(runtime)
    for probes in probes_risk.PROBES.values():
        for call, expect in probes:
            response = call(ctx)
            expect(ctx, response)
            for secret in probes_risk.SECRETS:
                assert secret not in response.text
    assert audit_count(runtime) == events
    engineer = login(client, "eng")
    assert [i["key"] for i in client.get(f"{RISK}/items", headers=engineer).json()] == [
        "H-1",
        "HS-1",
        "RC-1",
    ]
    pending = client.get(f"{RISK}/deltas/CR-2", headers=engineer).json()["entries"]
    assert [(e["key"], e["after"]["title"]) for e in pending] == [("H-2", "Acme secret proposal")]
