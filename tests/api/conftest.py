"""Fixtures for the API tests: an app on the test runtime (SQLite and PostgreSQL), a client
and the small world of ``tests.builders``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from medfleet.api.app import create_app
from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, login
from tests.builders import World, build_world


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    """An app bound to the test runtime."""
    return create_app(runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client for ``app``; server errors are raised in the test."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def world(runtime: Runtime) -> World:
    """The manufacturer, two hospitals and their staff."""
    return build_world(runtime)


@pytest.fixture
def auth(client: TestClient, world: World) -> Callable[[str], dict[str, str]]:
    """Authorization headers by user name, one token per user and test."""
    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            cache[username] = login(client, username)
        return cache[username]

    return headers
