"""Helpers for the API tests: logging in through the API, problem assertions, row counts."""

from __future__ import annotations

import json
import warnings
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from tests.builders import PASSWORD

with warnings.catch_warnings():
    # starlette asks for httpx2 and warns about httpx at import; the tests run on httpx.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from fastapi.testclient import TestClient

import httpx

PROBLEM_TYPE = "application/problem+json"

__all__ = ["PASSWORD", "TestClient", "assert_problem", "bearer", "count", "login", "token_for"]


def token_for(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """An API token from POST /api/v1/auth/token (asserts success)."""
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert isinstance(token, str)
    return token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Headers carrying a fresh token for ``username``."""
    return bearer(token_for(client, username, password))


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_TYPE)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for member in ("type", "title", "detail", "instance"):
        assert isinstance(body[member], str), member
    assert body["title"]
    assert body["instance"] == response.request.url.path
    return body


def count(runtime: Runtime, column: InstrumentedAttribute[Any], *where: Any) -> int:
    """How many rows of ``column``'s table match ``where``."""
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count(column)).where(*where)) or 0


def audit_count(runtime: Runtime) -> int:
    """How many audit events there are."""
    return count(runtime, AuditEventRow.seq)


def audit_events(runtime: Runtime, prefix: str = "") -> list[dict[str, Any]]:
    """Every audit event whose action starts with ``prefix``, in chain order, as documents."""
    with transaction(runtime.sessions) as session:
        docs = session.scalars(
            select(AuditEventRow.doc)
            .where(AuditEventRow.action.startswith(prefix))
            .order_by(AuditEventRow.seq)
        )
        return [json.loads(doc) for doc in docs]
