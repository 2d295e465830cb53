"""``db.planner.without`` switches one planner method off inside it and restores the
transaction's own setting after it, also when the statement inside fails."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from medfleet.db.engine import transaction
from medfleet.db.planner import without
from medfleet.runtime import Runtime


def seqscan(session: Session) -> str:
    return str(session.scalar(select(func.current_setting("enable_seqscan"))))


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_off_inside_and_the_transaction_s_own_value_after(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        assert seqscan(session) == "on"
        with without(session, "seqscan"):
            assert seqscan(session) == "off"
        assert seqscan(session) == "on"
        session.execute(text("SET LOCAL enable_seqscan = off"))
        with without(session, "seqscan"):
            assert seqscan(session) == "off"
        assert seqscan(session) == "off"
    with transaction(runtime.sessions) as session:  # never outlives the transaction
        assert seqscan(session) == "on"


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_restored_when_the_statement_inside_fails(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        with pytest.raises(ZeroDivisionError), without(session, "seqscan"):
            _ = 1 / 0
        assert seqscan(session) == "on"


def test_an_unknown_method_is_refused(runtime: Runtime) -> None:
    with (
        transaction(runtime.sessions) as session,
        pytest.raises(ValueError, match="unknown planner method 'indexscan'"),
        without(session, "indexscan"),
    ):
        pass


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_parallel_workers_off_inside(runtime: Runtime) -> None:
    def workers(session: Session) -> str:
        return str(session.scalar(select(func.current_setting("max_parallel_workers_per_gather"))))

    with transaction(runtime.sessions) as session:
        before = workers(session)
        assert before != "0"
        with without(session, "parallel"):
            assert workers(session) == "0"
        assert workers(session) == before
