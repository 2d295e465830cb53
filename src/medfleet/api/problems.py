"""Every HTTP error as RFC 9457 problem details (``application/problem+json``).

Domain errors are mapped by their category from ``medfleet.errors``, never by their concrete
class, so a new domain needs no change here:

==========================  ======  =====================================================
category                    status  notes
==========================  ======  =====================================================
``AccountLockedError``      423     ``locked_until`` member and a ``Retry-After`` header
``Unauthenticated``         401     ``WWW-Authenticate: Bearer realm="medfleet"``
``Forbidden``               403     checked before ``Conflict``: separation of duties is 403
``NotFound``                404     also for objects outside the caller's organization
``Conflict``                409     also a unique-constraint race caught by the database
``InvalidInput``            422     request validation errors too, with an ``errors`` list
``Unavailable``             503     also a missing server key, audit head or database
==========================  ======  =====================================================

A locked account answers 423 Locked rather than 401 so that a client can tell "wait until
``locked_until``" from "wrong credentials"; the right password does not help until then.

Routing's own 404 and 405 (with its ``Allow`` header) and any other ``HTTPException`` become
problems too; an unexpected exception is a 500 problem that names no internals (the server
still logs the traceback). Validation problems never echo the submitted values (they may be
passwords).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from medfleet.accounts.errors import AccountLockedError
from medfleet.audit.service import AuditError
from medfleet.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MedfleetError,
    NotFound,
    Unauthenticated,
    Unavailable,
    category_of,
)
from medfleet.signing.server_key import ServerKeyError

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:medfleet:problem:"
WWW_AUTHENTICATE = 'Bearer realm="medfleet"'

# The same categories the CLI maps to exit codes (``medfleet.errors.category_of``); a locked
# account is the one concrete error with a status of its own (423: wait, rather than retry).
LOCKED_STATUS = (423, "account-locked")
CATEGORY_STATUS: dict[type[MedfleetError], tuple[int, str]] = {
    Unauthenticated: (401, "unauthenticated"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not-found"),
    Conflict: (409, "conflict"),
    InvalidInput: (422, "invalid-input"),
    Unavailable: (503, "unavailable"),
}


class Problem(BaseModel):
    """The problem details object (RFC 9457 §3); extension members may follow."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str = ""


def _problem_content(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
    }


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem_content("No valid API token (or wrong user name or password)"),
    403: _problem_content("The caller lacks the role for this action"),
    404: _problem_content("Not found, or outside the caller's organization"),
    409: _problem_content("Conflicts with the current state"),
    422: _problem_content("The request is malformed or breaks a rule; nothing changed"),
}
"""OpenAPI ``responses`` for routers whose endpoints answer with problems."""


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    type_slug: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response for ``request``; ``instance`` is the request path."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + type_slug if type_slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if extra:
        body.update(extra)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def status_for(error: MedfleetError) -> tuple[int, str]:
    """The HTTP status and problem type slug for a domain error, by its category."""
    if isinstance(error, AccountLockedError):
        return LOCKED_STATUS
    return CATEGORY_STATUS[category_of(error)]


def _retry_after(request: Request, until: str) -> dict[str, str]:
    try:
        now = request.app.state.runtime.clock.now()
        seconds = int((datetime.fromisoformat(until) - now).total_seconds()) + 1
    except (AttributeError, TypeError, ValueError):
        return {}
    return {"Retry-After": str(max(seconds, 1))}


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MedfleetError)
    status, slug = status_for(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = dict(exc.problem_members())
    if isinstance(exc, AccountLockedError):
        extra["locked_until"] = exc.until
        headers.update(_retry_after(request, exc.until))
    elif status == 401:
        error = getattr(exc, "bearer_error", None)
        headers["WWW-Authenticate"] = (
            f'{WWW_AUTHENTICATE}, error="{error}"' if error else WWW_AUTHENTICATE
        )
    return problem_response(request, status, str(exc), type_slug=slug, headers=headers, extra=extra)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = []
    summary: list[str] = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", ""))
        errors.append({"loc": location, "msg": message, "type": str(error.get("type", ""))})
        summary.append(f"{'.'.join(location[1:] or location)}: {message}")
    return problem_response(
        request,
        422,
        "; ".join(summary) or "the request is not valid",
        type_slug="invalid-input",
        extra={"errors": errors},
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else ""
    if exc.status_code == 404 and not detail:
        detail = f"no resource at {request.url.path}"
    elif exc.status_code == 405 and not detail:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    detail = (
        "the database is not reachable"
        if isinstance(exc, OperationalError)
        else f"the server is not ready: {exc}"
    )
    return problem_response(request, 503, detail, type_slug="unavailable")


def _integrity_conflict(request: Request, _exc: Exception) -> JSONResponse:
    return problem_response(
        request,
        409,
        "the change conflicts with data written at the same time; nothing changed, retry",
        type_slug="conflict",
    )


def _internal_error(request: Request, _exc: Exception) -> JSONResponse:
    return problem_response(
        request,
        500,
        "the server failed to answer this request; the error was logged",
        type_slug="internal-error",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json on ``app``."""
    app.add_exception_handler(MedfleetError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(ServerKeyError, _unavailable)
    app.add_exception_handler(AuditError, _unavailable)
    app.add_exception_handler(IntegrityError, _integrity_conflict)
    app.add_exception_handler(Exception, _internal_error)
