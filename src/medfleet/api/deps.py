"""FastAPI dependencies shared by every router: the runtime, units of work and the caller.

The runtime is the one the app was built with (``app.state.runtime``). ``unit_of_work`` is the
only way a route opens a transaction, so every use case commits as a whole or not at all.
``CurrentPrincipal`` resolves ``Authorization: Bearer mf_...`` to the caller; a missing or bad
token raises an ``Unauthenticated`` error, which ``api/problems.py`` turns into 401 with a
``WWW-Authenticate`` header.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from medfleet.accounts.credentials import TOKEN_PREFIX, principal_for_token
from medfleet.accounts.errors import AuthenticationError
from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime

API_PREFIX = "/api/v1"
"""Where the versioned API lives; every domain router mounts below it."""


class MissingTokenError(AuthenticationError):
    """The request carries no bearer token."""

    bearer_error: str | None = None


class InvalidTokenError(AuthenticationError):
    """The bearer token is unknown, expired or revoked (RFC 6750 ``invalid_token``)."""

    bearer_error: str | None = "invalid_token"


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="mf_...",
    description="An API token from POST /api/v1/auth/token.",
)


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was created with."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@contextmanager
def unit_of_work(runtime: Runtime) -> Iterator[Session]:
    """One use case, one transaction: commits when the block succeeds, else rolls back."""
    with transaction(runtime.sessions) as session:
        yield session


def get_principal(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the bearer token.

    Raises:
        MissingTokenError: no ``Authorization: Bearer`` header.
        InvalidTokenError: the token is malformed, unknown, expired or revoked.
    """
    if credentials is None:
        raise MissingTokenError("this needs an API token: 'Authorization: Bearer mf_...'")
    token = credentials.credentials
    if not token.startswith(TOKEN_PREFIX):
        raise InvalidTokenError("token is unknown, expired or revoked")
    try:
        with unit_of_work(runtime) as session:
            return principal_for_token(session, token, runtime.clock.now())
    except AuthenticationError as exc:
        raise InvalidTokenError(str(exc)) from exc


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
