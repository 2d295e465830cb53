"""The app shell: health, readiness, OpenAPI, metrics and problem+json for routing errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from medfleet.accounts.errors import (
    AccountLockedError,
    AuthenticationError,
    PermissionDeniedError,
    SeparationOfDutiesError,
    SignatureError,
)
from medfleet.api.app import api_routes, create_app
from medfleet.api.problems import status_for
from medfleet.audit.tables import AuditHeadRow
from medfleet.changes.errors import ChangeRequestNotFoundError, InvalidChangeRequestError
from medfleet.clock import FrozenClock
from medfleet.config import load_settings
from medfleet.db.engine import transaction
from medfleet.errors import MedfleetError, Unavailable
from medfleet.runtime import Runtime
from medfleet.signing.server_key import PRIVATE_NAME, create_server_key
from tests.api.helpers import TestClient, assert_problem
from tests.builders import World
from tests.conftest import T0


def test_health_needs_no_database_and_ready_reports_it(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    create_server_key(settings.keys)
    runtime = Runtime(settings, clock=FrozenClock(T0))
    try:
        with TestClient(create_app(runtime)) as client:
            health = client.get("/health")
            ready = client.get("/ready")
    finally:
        runtime.close()
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    body = assert_problem(ready, 503)
    assert body["checks"]["database"].startswith("not reachable")
    assert body["checks"]["server_key"] == "ok"


def test_ready_when_database_head_and_key_are_there(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "audit_head": "ok", "server_key": "ok"},
    }


def test_not_ready_without_server_key(runtime: Runtime, client: TestClient) -> None:
    (runtime.settings.keys / PRIVATE_NAME).unlink()
    body = assert_problem(client.get("/ready"), 503)
    assert body["checks"]["server_key"].startswith("not loadable")
    assert body["checks"]["database"] == "ok"
    assert "server_key" in body["detail"]


def test_not_ready_without_audit_head(runtime: Runtime, client: TestClient) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(delete(AuditHeadRow))
    body = assert_problem(client.get("/ready"), 503)
    assert body["checks"]["audit_head"] != "ok"
    assert body["checks"]["database"] == "ok"


def test_openapi_lists_every_api_path(app: FastAPI, client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for route in api_routes(app):
        documented = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # OpenAPI drops converters
        assert route.method.lower() in paths[documented], route
    for path in ("/health", "/ready", "/api/v1/change-requests/{key}/signatures"):
        assert path in paths
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    not_found = paths["/api/v1/sites/{site_id}"]["get"]["responses"]["404"]
    assert "application/problem+json" in not_found["content"]


def test_metrics_count_requests_by_route_template(
    client: TestClient, world: World, auth: Callable[[str], dict[str, str]]
) -> None:
    for _ in range(3):
        assert client.get("/health").status_code == 200
    headers = auth("root")
    assert client.get(f"/api/v1/sites/{world.site_a}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/sites/{world.site_b}", headers=headers).status_code == 200
    assert client.get("/no/such/thing").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'medfleet_http_requests_total{method="GET",route="/health",status="200"} 3.0' in text
    assert (
        'medfleet_http_requests_total{method="GET",route="/api/v1/sites/{site_id}",'
        'status="200"} 2.0'
    ) in text
    assert 'route="<unmatched>",status="404"' in text
    assert "medfleet_http_request_duration_seconds_bucket" in text


def test_two_apps_keep_separate_metrics(runtime: Runtime) -> None:
    first, second = TestClient(create_app(runtime)), TestClient(create_app(runtime))
    first.get("/health")
    assert 'route="/health"' in first.get("/metrics").text
    assert 'route="/health"' not in second.get("/metrics").text


def test_unknown_path_is_a_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/nothing-here"), 404)
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"


def test_wrong_method_is_a_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/api/v1/me")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


def test_missing_token_is_401_with_challenge(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/me")
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="medfleet"'
    assert "Bearer" in body["detail"]


def test_bad_tokens_are_401_invalid_token(client: TestClient, world: World) -> None:
    for header in ("Bearer mf_not-a-real-token", "Bearer something-else", "Basic abc"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith('Bearer realm="medfleet"')
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer mf_nope"})
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_validation_problem_lists_errors_without_echoing_input(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", json={"username": 7, "password": "", "label": "x"})
    body = assert_problem(response, 422)
    assert body["type"].endswith("invalid-input")
    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert ("body", "username") in locations
    assert ("body", "password") in locations
    assert "input" not in body["errors"][0]


def test_unexpected_error_is_a_500_problem_and_counted(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
        metrics = client.get("/metrics").text
    body = assert_problem(response, 500)
    assert "internal detail" not in response.text
    assert body["type"].endswith("internal-error")
    assert 'route="/boom",status="500"' in metrics


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (AccountLockedError("locked", "2026-01-15T09:15:00+00:00"), 423),
        (AuthenticationError("wrong"), 401),
        (SeparationOfDutiesError("own record"), 403),
        (PermissionDeniedError("role"), 403),
        (ChangeRequestNotFoundError("CR-9"), 404),
        (SignatureError("twice"), 409),
        (InvalidChangeRequestError("title"), 422),
        (Unavailable("later"), 503),
    ],
)
def test_status_by_error_category(error: MedfleetError, status: int) -> None:
    assert status_for(error)[0] == status


def test_the_app_serves_the_repository_tree_as_static_files(
    client: TestClient, runtime: Runtime
) -> None:
    timestamp = runtime.settings.blobs / "public" / "repo" / "director" / "dev-1" / "metadata"
    timestamp.mkdir(parents=True)
    (timestamp / "timestamp.json").write_bytes(b'{"signed": {}}')
    url = "/repo/director/dev-1/metadata/timestamp.json"
    first = client.get(url)
    assert (first.status_code, first.content) == (200, b'{"signed": {}}')
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/repo/director/dev-2/metadata/timestamp.json").status_code == 404
