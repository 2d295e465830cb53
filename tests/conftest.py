"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, isolated per test.

SQLite: each test gets a copy of a database migrated once per session. PostgreSQL: one database
per test session, migrated with Alembic, emptied before each test. Without a reachable server
the PostgreSQL half is skipped with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, delete, insert, inspect, text
from sqlalchemy.engine import make_url

from medfleet.audit.model import GENESIS_HASH
from medfleet.audit.tables import HEAD_ROW_ID, AuditHeadRow
from medfleet.clock import FrozenClock
from medfleet.config import Settings, load_settings
from medfleet.db.engine import make_engine
from medfleet.db.migrate import upgrade
from medfleet.db.tables import metadata
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.signing.server_key import create_server_key
from tests.builders import create_distribution

PG_ADMIN_URL = os.environ.get(
    "MEDFLEET_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 64}


def _pg_reason() -> str | None:
    url = make_url(PG_ADMIN_URL)
    try:
        with psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            dbname=url.database,
            connect_timeout=3,
        ):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL not reachable at {url.host}:{url.port}: {str(exc).strip()[:200]}"


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped on leaving; skips the test without
    a reachable server (fails it under ``CI=true``)."""
    reason = _pg_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    with scratch_postgres("medfleet_test") as url:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new, unmigrated database of its own (for tests that move the
    schema up and down): a SQLite file, or a PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        engine = make_engine(load_settings(tmp_path))
        yield engine
        engine.dispose()
        return
    with scratch_postgres("medfleet_migration") as url:
        engine = make_engine(load_settings(tmp_path, database_url=url))
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    settings = load_settings(directory, **CHEAP_ARGON2)
    engine = make_engine(settings)
    upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the main file
    return directory / "medfleet.db"


def empty_postgres(url: str) -> None:
    """Remove every row and reset the audit head, keeping the schema."""
    engine = create_engine(url)
    # Only the tables the migrations created: a table without its migration yet is reported by
    # the drift test (tests/db), not by every test that happens to run on PostgreSQL.
    existing = set(inspect(engine).get_table_names())
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name in existing)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(delete(AuditHeadRow.__table__))
        connection.execute(
            insert(AuditHeadRow.__table__).values(id=HEAD_ROW_ID, seq=0, hash=GENESIS_HASH)
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for one test on one backend, with an empty migrated database."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, data_dir / "medfleet.db")
        return load_settings(data_dir, **CHEAP_ARGON2)
    url: str = request.getfixturevalue("pg_url")
    empty_postgres(url)
    return load_settings(data_dir, database_url=url, **CHEAP_ARGON2)


@pytest.fixture
def clock() -> FrozenClock:
    """A clock that stands still unless a test moves it."""
    return FrozenClock(T0)


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    """A runtime on the test database, with a server key and a controlled clock."""
    create_server_key(settings.keys)
    rt = Runtime(settings, clock=clock)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def distribution(runtime: Runtime) -> Distribution:
    """Update signing (image repository and director) created in the runtime's data directory."""
    return create_distribution(runtime)
