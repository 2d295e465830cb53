"""Planner method switches for one statement whose best plan PostgreSQL does not find itself.

``without(session, "seqscan")`` turns ``enable_seqscan`` off for the statements run inside it
and then puts back the value the transaction had (``set_config(..., is_local => true)``: the
setting never outlives the transaction, and another connection never sees it). Use it only
where a benchmark shows the planner's choice slower on the data it is for, and say so where
it is used. Elsewhere (SQLite) it does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

METHODS = frozenset({"seqscan", "hashagg", "sort", "nestloop", "hashjoin", "mergejoin"})


@contextmanager
def without(session: Session, method: str) -> Iterator[None]:
    """The statements inside are planned without ``method`` (one of ``METHODS``) where
    another plan exists; the transaction's own setting is restored afterwards."""
    if method not in METHODS:
        raise ValueError(f"unknown planner method {method!r}")
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    name = f"enable_{method}"
    before = session.scalar(select(func.current_setting(name)))
    session.execute(select(func.set_config(name, "off", True)))
    try:
        yield
    finally:
        session.execute(select(func.set_config(name, before, True)))
