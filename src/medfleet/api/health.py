"""Liveness (``GET /health``) and readiness (``GET /ready``) for load balancers and orchestrators.

Liveness touches nothing but the process. Readiness answers 200 only when the database answers
``SELECT 1``, the audit trail's head row exists (the database was migrated) and the server key
can be loaded from the key directory; otherwise 503 as a problem whose ``checks`` member says
which check failed.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from medfleet.api.deps import RuntimeDep
from medfleet.api.problems import problem_response
from medfleet.audit.tables import HEAD_ROW_ID, AuditHeadRow
from medfleet.runtime import Runtime
from medfleet.signing.server_key import ServerKeyError, load_server_key

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """Liveness answer."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Readiness answer: each check is ``"ok"`` or what is wrong."""

    status: Literal["ready"] = "ready"
    checks: dict[str, str]


def readiness_checks(runtime: Runtime) -> dict[str, str]:
    """Run the readiness checks; each value is ``"ok"`` or a short reason."""
    checks: dict[str, str] = {}
    try:
        with runtime.db.connect() as connection:
            connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
            head = connection.execute(
                select(AuditHeadRow.seq).where(AuditHeadRow.id == HEAD_ROW_ID)
            ).first()
            checks["audit_head"] = (
                "ok" if head is not None else "audit head row missing; run 'medfleet db upgrade'"
            )
    except SQLAlchemyError as exc:
        checks.setdefault("database", f"not reachable: {type(exc).__name__}")
        checks.setdefault("audit_head", "not checked: database not reachable")
    try:
        load_server_key(runtime.settings.keys)
        checks["server_key"] = "ok"
    except (ServerKeyError, OSError, ValueError) as exc:
        checks["server_key"] = f"not loadable: {exc}"
    return checks


@router.get("/health", summary="Liveness: the process answers")
def health() -> Health:
    """Always ``{"status": "ok"}`` while the process serves requests; no database access."""
    return Health()


@router.get(
    "/ready",
    summary="Readiness: database, audit trail and server key are usable",
    responses={503: {"description": "Not ready; see the problem's checks member"}},
    response_model=Readiness,
)
def ready(request: Request, runtime: RuntimeDep) -> Readiness | JSONResponse:
    """200 with the checks when every one passes, else a 503 problem listing them."""
    checks = readiness_checks(runtime)
    if all(value == "ok" for value in checks.values()):
        return Readiness(checks=checks)
    failed = ", ".join(name for name, value in checks.items() if value != "ok")
    return problem_response(
        request, 503, f"not ready: {failed}", type_slug="unavailable", extra={"checks": checks}
    )
