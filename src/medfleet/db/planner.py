"""Planner method switches for one statement whose best plan PostgreSQL does not find itself.

``without(session, "seqscan")`` (a session or a connection) turns ``enable_seqscan`` off for
the statements run inside it and then puts back the value the transaction had
(``set_config(..., is_local => true)``: the setting never outlives the transaction, and another
connection never sees it); ``"parallel"`` sets ``max_parallel_workers_per_gather`` to 0.
Use it only where a benchmark shows the planner's choice slower on the data it is for, and
say so where it is used. Elsewhere (SQLite) it does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from medfleet.db.dialect import Executor, on_postgresql

# Each method, and the setting and value that switch it off.
_SWITCHES = {
    **{method: (f"enable_{method}", "off") for method in (
        "seqscan", "hashagg", "sort", "nestloop", "hashjoin", "mergejoin"
    )},
    # Parallel workers: for a statement that runs while another connection keeps a core busy.
    "parallel": ("max_parallel_workers_per_gather", "0"),
}  # fmt: skip
METHODS = frozenset(_SWITCHES)


@contextmanager
def without(executor: Executor, method: str) -> Iterator[None]:
    """The statements inside are planned without ``method`` (one of ``METHODS``) where
    another plan exists; the transaction's own setting is restored afterwards. ``executor`` is
    the session or connection the statements run on."""
    if method not in METHODS:
        raise ValueError(f"unknown planner method {method!r}")
    if not on_postgresql(executor):
        yield
        return
    name, off = _SWITCHES[method]
    before = executor.scalar(select(func.current_setting(name)))
    executor.execute(select(func.set_config(name, off, True)))
    try:
        yield
    finally:
        executor.execute(select(func.set_config(name, before, True)))
