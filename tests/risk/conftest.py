"""Fixtures for the risk tests: the API ones (as ``tests/api/conftest.py``) and the CLI one.

The app is imported inside the fixture, so the pure and service tests never depend on the
assembly of every other domain's routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from medfleet.runtime import Runtime
from tests.builders import World, build_world
from tests.cli.conftest import cli

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tests.api.helpers import TestClient

__all__ = ["app", "auth", "cli", "client", "world"]


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    """An app bound to the test runtime."""
    from medfleet.api.app import create_app

    return create_app(runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client for ``app``."""
    from tests.api.helpers import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def world(runtime: Runtime) -> World:
    """The manufacturer, two hospitals and their staff."""
    return build_world(runtime)


@pytest.fixture
def auth(client: TestClient, world: World) -> Callable[[str], dict[str, str]]:
    """Authorization headers by user name, one token per user and test."""
    from tests.api.helpers import login

    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            cache[username] = login(client, username)
        return cache[username]

    return headers
