"""Which database a session or a connection talks to, for the few statements written per
backend (PostgreSQL arrays and planner settings; SQLite otherwise)."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session

Executor = Session | Connection


def on_postgresql(executor: Executor) -> bool:
    """Whether ``executor`` (a session or a connection) runs on PostgreSQL."""
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    return bind.dialect.name == "postgresql"
