"""``column IN ids`` for id sets of any size, as one bound value on PostgreSQL.

An ``IN`` list of thousands of ids costs the driver and the planner per element (psycopg
splits the statement at every placeholder; SQLite caps the number of bound parameters). On
PostgreSQL ``one_of`` binds the whole set as one integer array (``column = ANY(:ids)``), which
the server hashes; elsewhere (SQLite, the embedded default) it is an ordinary expanding ``IN``,
rendered as literal integers so no parameter limit applies.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from medfleet.db.dialect import Executor, on_postgresql

IdColumn = (
    InstrumentedAttribute[int]
    | InstrumentedAttribute[int | None]
    | ColumnElement[int]
    | ColumnElement[int | None]
)


def one_of(executor: Executor, column: IdColumn, ids: Collection[int]) -> ColumnElement[bool]:
    """A condition true where ``column`` is one of ``ids`` (false for an empty set and for a
    NULL in a nullable column), for statements run on ``executor`` (a session or a
    connection)."""
    values = sorted(set(ids))
    if on_postgresql(executor):
        return column == any_(bindparam(None, values, type_=ARRAY(Integer)))
    return column.in_(bindparam(None, values, expanding=True, literal_execute=True))
