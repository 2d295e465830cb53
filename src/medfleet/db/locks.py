"""Named locks held until the end of the caller's transaction.

``hold_until_commit`` serialises transactions that would otherwise race to create the same
rows (two imports inserting one new vulnerability and its aliases): on PostgreSQL it takes a
transaction-scoped advisory lock (``pg_advisory_xact_lock``), released by commit or rollback;
the second transaction waits, then reads what the first committed. SQLite lets one writer in
at a time by itself, so elsewhere it does nothing.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.db.dialect import on_postgresql


def lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of ``name`` (stable across processes and versions)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"medfleet-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


def hold_until_commit(session: Session, name: str) -> None:
    """Wait for, then hold, the lock ``name`` until the session's transaction ends."""
    if on_postgresql(session):
        session.execute(select(func.pg_advisory_xact_lock(lock_key(name))))
