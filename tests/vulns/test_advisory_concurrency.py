"""Two imports bringing the same new vulnerability at once (PostgreSQL): one vulnerability.

The first import's transaction stays open while a second process imports another source's
record of the same CVE. The second must wait for the first to commit and then join its
vulnerability, instead of creating the same key and aliases and failing on their uniqueness.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text

from medfleet.config import Settings
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns.advisories import ImportSummary, import_advisories
from medfleet.vulns.tables import Vulnerability
from tests.builders import World
from tests.vulns.support_advisory import parsed, run_import, vulnerability, world

__all__ = ["world"]
HEARTBLEED = "CVE-2014-0160"


@pytest.fixture
def second_process(settings: Settings, runtime: Runtime) -> Iterator[Runtime]:
    """Another process's runtime on the same database."""
    other = Runtime(settings, clock=runtime.clock)
    try:
        yield other
    finally:
        other.close()


def wait_until_a_backend_waits_for_a_lock(runtime: Runtime, timeout: float = 60) -> None:
    """Return once another connection is blocked on a lock (polled; fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(runtime.sessions) as session:
            waiting = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        time.sleep(0.02)
    pytest.fail("the second import never waited for the first")


@pytest.mark.parametrize(
    "settings", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_second_import_waits_and_joins_the_first_ones_vulnerability(
    runtime: Runtime, world: World, second_process: Runtime
) -> None:
    second: list[ImportSummary] = []
    failures: list[BaseException] = []

    def import_nvd_record() -> None:
        try:
            second.append(run_import(second_process, world.qa, parsed("nvd/CVE-2014-0160.json")))
        except BaseException as error:  # reported in the test's thread
            failures.append(error)

    with transaction(runtime.sessions) as session:
        first = import_advisories(
            session,
            runtime.audit,
            world.engineer,
            parsed("osv/CVE-2014-0160.json"),
            runtime.clock.now(),
        )
        assert first.created == 1
        thread = threading.Thread(target=import_nvd_record)
        thread.start()
        wait_until_a_backend_waits_for_a_lock(runtime)
    thread.join(timeout=60)
    assert not failures, failures
    assert second[0].created == 1
    found = vulnerability(runtime, HEARTBLEED)
    assert {source for source, _ in found["advisories"]} == {"osv", "nvd"}
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count(Vulnerability.id))) == 1
