"""One read-only query run beside the session's own work, on a second PostgreSQL connection
that sees exactly what the session sees.

``start_side_read(session, read)`` starts ``read`` and returns at once; ``result()`` waits for
its answer. On PostgreSQL, when the session's transaction has written nothing yet
(``txid_current_if_assigned()`` is NULL), the transaction's snapshot is exported
(``pg_export_snapshot()``, as ``pg_dump --jobs`` does) and ``read`` runs in a thread, on a
connection of its own, in a ``READ ONLY`` ``REPEATABLE READ`` transaction that imports that
snapshot: it sees the rows the session saw when the read started, no more and no fewer, and
it cannot write. Everywhere else ``read`` runs on the session's own connection when
``result()`` is called: on SQLite; when the transaction has written (no other connection can
see its rows); when ``MAX_SIDE_READS`` side reads are already running. The answer is the same
either way; only the overlap is lost.

Side connections come from a pool of their own (the engine's pool recreated: same driver,
same connect arguments), and at most ``MAX_SIDE_READS`` run at once, fewer than that pool
holds: a side read never waits for a connection, so it can never deadlock with requests that
hold every connection of the engine's pool while waiting for their side reads.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_SIDE_READS = 4
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")

_side_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_side_engines_lock = threading.Lock()
_running = threading.BoundedSemaphore(MAX_SIDE_READS)


class SideRead(Generic[T]):
    """A read started by ``start_side_read``; ``result()`` gives its answer (once running
    beside the session, or run then on the session's own connection)."""

    def __init__(self, session: Session, read: Callable[[Connection], T]) -> None:
        self._session = session
        self._read = read
        self._future: Future[T] | None = None

    @property
    def beside(self) -> bool:
        """Whether the read runs on a connection of its own, at the same time as the session."""
        return self._future is not None

    def result(self) -> T:
        """The read's answer; its exception, if it raised one."""
        if self._future is None:
            return self._read(self._session.connection())
        return self._future.result()


def start_side_read(session: Session, read: Callable[[Connection], T]) -> SideRead[T]:
    """Start ``read`` beside the session where it can see the same rows (see the module);
    ``read`` gets a connection and must only read."""
    side = SideRead(session, read)
    connection = session.connection()
    if connection.dialect.name != "postgresql" or _autocommits(connection):
        return side
    snapshot, written = connection.execute(
        select(func.pg_export_snapshot(), func.txid_current_if_assigned())
    ).one()
    if written is not None:
        return side
    engine = _side_engine(connection.engine)
    if not _running.acquire(blocking=False):
        return side
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(_read_in_snapshot(engine, str(snapshot), read))
        except BaseException as error:  # handed to result(); nobody else would see it
            future.set_exception(error)
        finally:
            _running.release()

    try:
        threading.Thread(target=run, name="medfleet-side-read", daemon=True).start()
    except RuntimeError:  # no thread to be had: read on the session's connection
        _running.release()
        return side
    side._future = future
    return side


def _autocommits(connection: Connection) -> bool:
    """Whether each statement is its own transaction (its exported snapshot ends with it)."""
    return bool(getattr(connection.connection.driver_connection, "autocommit", False))


def _read_in_snapshot(engine: Engine, snapshot: str, read: Callable[[Connection], T]) -> T:
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    with engine.connect() as connection:
        reader = connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        # Must be the transaction's first statement; it takes no bound parameter.
        reader.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        try:
            return read(reader)
        finally:
            reader.rollback()


def _side_engine(engine: Engine) -> Engine:
    """The engine of ``engine``'s side connections; disposed with ``engine``."""
    with _side_engines_lock:
        side = _side_engines.get(engine)
        if side is None:
            side = create_engine(engine.url, pool=engine.pool.recreate())
            _side_engines[engine] = side
            if not event.contains(engine, "engine_disposed", _dispose_side_engine):
                event.listen(engine, "engine_disposed", _dispose_side_engine)
        return side


def _dispose_side_engine(engine: Engine) -> None:
    with _side_engines_lock:
        side = _side_engines.pop(engine, None)
    if side is not None:
        side.dispose()
