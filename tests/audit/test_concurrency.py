"""Two writer processes append at the same time and the chain never forks.

Each process builds its own ``Runtime`` from the settings (as two API workers would) and appends
in many small transactions. PostgreSQL serializes them on the head row lock
(``SELECT … FOR UPDATE``); SQLite on ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import multiprocessing
from itertools import pairwise
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import select

from medfleet.audit.model import NewEvent
from medfleet.audit.tables import AuditEventRow
from medfleet.config import load_settings
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from tests.audit.helpers import check
from tests.conftest import CHEAP_ARGON2

PER_WRITER = 300


def write(data_dir: str, database_url: str, writer: int, start: Barrier) -> None:
    """One writer process: wait until both are ready, then append one event per transaction."""
    settings = load_settings(Path(data_dir), database_url=database_url, **CHEAP_ARGON2)
    rt = Runtime(settings)
    start.wait(timeout=120)
    for n in range(PER_WRITER):
        with transaction(rt.sessions) as session:
            rt.audit.record(
                session,
                NewEvent(
                    f"writer:{writer}",
                    writer,
                    "test.appended",
                    "writer",
                    str(n),
                    {"writer": writer, "n": n},
                ),
            )
    rt.close()


def test_two_writer_processes_never_fork_the_chain(runtime: Runtime) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    settings = runtime.settings
    writers = [
        context.Process(
            target=write, args=(str(settings.data_dir), settings.database_url, writer, start)
        )
        for writer in (1, 2)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=240)
    assert [process.exitcode for process in writers] == [0, 0]

    with transaction(runtime.sessions) as session:
        rows = session.execute(
            select(AuditEventRow.seq, AuditEventRow.actor).order_by(AuditEventRow.seq)
        ).all()
    assert [seq for seq, _ in rows] == list(range(1, 2 * PER_WRITER + 1))
    actors = [actor for _, actor in rows]
    assert actors.count("writer:1") == actors.count("writer:2") == PER_WRITER
    if not settings.is_sqlite:  # row-lock waiters are served in order: the writers interleave
        assert sum(a != b for a, b in pairwise(actors)) > 10
    result = check(runtime)
    assert (result.ok, result.events_checked, result.last_seq) == (True, 600, 600), result
