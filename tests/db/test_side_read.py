"""``db.side_read``: a read beside the session sees exactly the session's snapshot, on a
connection of its own, and falls back to the session's own connection where it cannot."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from medfleet.accounts.model import OrgKind
from medfleet.accounts.tables import Organization
from medfleet.db.engine import transaction
from medfleet.db.side_read import MAX_SIDE_READS, SideRead, start_side_read
from medfleet.runtime import Runtime


def add_hospital(runtime: Runtime, name: str) -> None:
    with transaction(runtime.sessions) as session:
        session.add(Organization(name=name, kind=OrgKind.HOSPITAL, created_at=runtime.clock.now()))


def hospitals(connection: Connection) -> int:
    return int(connection.scalar(select(func.count()).select_from(Organization)) or 0)


def backend(connection: Connection) -> int:
    return int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_sees_the_session_s_snapshot_on_a_connection_of_its_own(runtime: Runtime) -> None:
    add_hospital(runtime, "Before")
    committed = threading.Event()

    def read(connection: Connection) -> tuple[int, int]:
        committed.wait()  # the other hospital is committed before this read looks
        return hospitals(connection), backend(connection)

    with transaction(runtime.sessions) as session:
        before = hospitals(session.connection())
        side = start_side_read(session, read)
        add_hospital(runtime, "After")
        committed.set()
        seen, side_backend = side.result()
        assert side.beside
        assert seen == before == 1
        assert hospitals(session.connection()) == 2  # the session's next statement sees it
        assert side_backend != backend(session.connection())


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_after_the_session_wrote_it_runs_on_the_session_s_connection(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        unsaved = Organization(
            name="Unsaved", kind=OrgKind.HOSPITAL, created_at=runtime.clock.now()
        )
        session.add(unsaved)
        session.flush()
        side = start_side_read(session, lambda c: (hospitals(c), backend(c)))
        assert not side.beside
        assert side.result() == (1, backend(session.connection()))


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_a_side_read_cannot_write(runtime: Runtime) -> None:
    def write(connection: Connection) -> None:
        connection.execute(text("DELETE FROM organization"))

    add_hospital(runtime, "Kept")
    with transaction(runtime.sessions) as session:
        side = start_side_read(session, write)
        assert side.beside
        with pytest.raises(DBAPIError, match="read-only transaction"):
            side.result()
        assert hospitals(session.connection()) == 1


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_its_error_is_raised_by_result(runtime: Runtime) -> None:
    def fail(_connection: Connection) -> None:
        raise LookupError("no such thing")

    with transaction(runtime.sessions) as session:
        side = start_side_read(session, fail)
        with pytest.raises(LookupError, match="no such thing"):
            side.result()


@pytest.fixture
def side_reads_held(runtime: Runtime) -> Iterator[list[SideRead[int]]]:
    """``MAX_SIDE_READS`` side reads started and held running until the test ends."""
    release = threading.Event()

    def held(connection: Connection) -> int:
        release.wait()
        return hospitals(connection)

    sessions = [runtime.sessions() for _ in range(MAX_SIDE_READS)]
    try:
        yield [start_side_read(session, held) for session in sessions]
    finally:
        release.set()
        for session in sessions:
            session.close()


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_with_every_side_read_busy_it_runs_on_the_session_s_connection(
    runtime: Runtime, side_reads_held: list[SideRead[int]]
) -> None:
    assert all(side.beside for side in side_reads_held)
    with transaction(runtime.sessions) as session:
        side = start_side_read(session, backend)
        assert not side.beside
        assert side.result() == backend(session.connection())


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_side_connections_are_closed_with_the_engine(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        side_backend = start_side_read(session, backend).result()
    assert side_backend in connected(runtime)  # pooled for the next side read
    runtime.db.dispose()
    assert side_backend not in connected(runtime)


def connected(runtime: Runtime) -> set[int]:
    """The backends connected to the test database, seen from a connection of its own."""
    engine = create_engine(runtime.db.url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return {pid for (pid,) in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_on_sqlite_it_runs_on_the_session_s_connection(runtime: Runtime) -> None:
    add_hospital(runtime, "Only")
    with transaction(runtime.sessions) as session:
        side = start_side_read(session, hospitals)
        assert not side.beside
        assert side.result() == 1


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_in_autocommit_mode_it_runs_on_the_session_s_connection(runtime: Runtime) -> None:
    add_hospital(runtime, "Only")
    autocommit = runtime.db.execution_options(isolation_level="AUTOCOMMIT")
    with Session(autocommit) as session:
        side = start_side_read(session, lambda c: (hospitals(c), backend(c)))
        assert not side.beside
        assert side.result() == (1, backend(session.connection()))
