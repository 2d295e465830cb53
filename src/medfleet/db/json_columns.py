"""Columns the database derives from a JSON text column, so they can never disagree with it.

``derived_from_json("doc", "actor")`` is a ``Computed`` column definition: ``GENERATED ALWAYS
AS (json_extract(doc, '$.actor'))`` on SQLite (virtual: computed on read, indexable) and
``GENERATED ALWAYS AS ((doc::json ->> 'actor')) STORED`` on PostgreSQL (the only kind that can
be indexed there). Both databases refuse an ``UPDATE`` of such a column, so whoever wants the
column to say something else must change the JSON (which the audit chain hashes) or the table
definition (which ``reflected_expression_matches`` checks).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Computed
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import DDLCompiler, SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

_KEY = re.compile(r"[a-z_][a-z0-9_]*")


class JsonField(ColumnElement[Any]):
    """The value of one top-level key of the JSON text held in another column of the row."""

    inherit_cache = True

    def __init__(self, column: str, key: str, *, integer: bool = False) -> None:
        if not (_KEY.fullmatch(column) and _KEY.fullmatch(key)):
            raise ValueError(f"not a plain identifier: {column!r}, {key!r}")
        self.column = column
        self.key = key
        self.integer = integer


@compiles(JsonField)
def _json_field_sqlite(element: JsonField, compiler: SQLCompiler, **kw: Any) -> str:  # noqa: ARG001
    return f"json_extract({element.column}, '$.{element.key}')"


@compiles(JsonField, "postgresql")
def _json_field_postgresql(element: JsonField, compiler: SQLCompiler, **kw: Any) -> str:  # noqa: ARG001
    text = f"({element.column}::json ->> '{element.key}')"
    return f"{text}::integer" if element.integer else text


class DerivedFromJson(Computed):
    """``GENERATED ALWAYS AS`` one key of a JSON text column; stored where it must be."""

    inherit_cache = True


@compiles(DerivedFromJson, "postgresql")
def _stored_on_postgresql(element: DerivedFromJson, compiler: DDLCompiler, **kw: Any) -> str:  # noqa: ARG001
    expression = compiler.sql_compiler.process(
        element.sqltext, include_table=False, literal_binds=True
    )
    return f"GENERATED ALWAYS AS ({expression}) STORED"


def derived_from_json(column: str, key: str, *, integer: bool = False) -> DerivedFromJson:
    """The generated-column definition of ``key`` of the JSON text in ``column``."""
    return DerivedFromJson(JsonField(column, key, integer=integer), persisted=None)


def _normalized(expression: str) -> str:
    """Drop what PostgreSQL adds when it echoes an expression back: parentheses, casts to text."""
    return re.sub(r"[()\s]|::text\b", "", expression)


def reflected_expression_matches(
    definition: DerivedFromJson, reflected: str | None, dialect: Dialect
) -> bool:
    """True when ``reflected`` (an inspector's ``computed.sqltext``) is ``definition``'s."""
    if reflected is None:
        return False
    expected = str(definition.sqltext.compile(dialect=dialect))
    return _normalized(reflected) == _normalized(expected)
