"""Helpers for the audit tests: a known chain, tampering by plain SQL, and verification."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import text

from medfleet.audit.model import NewEvent, Problem, VerifyResult, canonical_json
from medfleet.audit.service import AuditLog, verify
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime

# Awkward on purpose: quotes, backslashes, control characters and non-ASCII must all survive.
NAMES = ['St. Anna "Nord"', "Back\\slash", "Zeile\nzwei", "Überprüft — ü", "plain"]


def event(n: int) -> NewEvent:
    """The n-th test event; every seventh one has no organization."""
    return NewEvent(
        actor=f"user:{n % 3}",
        org_id=None if n % 7 == 0 else 1 + n % 2,
        action="device.updated",
        object_type="device",
        object_id=f"SN-{n:04d}",
        payload={"n": n, "name": NAMES[n % len(NAMES)], "ok": n % 2 == 0, "tags": ["a", n]},
    )


def append(
    rt: Runtime,
    count: int,
    *,
    per_transaction: int = 1,
    log: AuditLog | None = None,
    first: int = 1,
) -> int:
    """Append ``count`` events, ``per_transaction`` to a transaction; return the last seq."""
    audit = log or rt.audit
    last = 0
    for start in range(first, first + count, per_transaction):
        batch = [event(n) for n in range(start, min(start + per_transaction, first + count))]
        with transaction(rt.sessions) as session:
            last = audit.record_many(session, batch)
    return last


def sql(rt: Runtime, statement: str, **params: Any) -> None:
    """Tamper as an attacker with database access would: plain SQL, committed."""
    with rt.db.begin() as connection:
        connection.execute(text(statement), params)


def stored(rt: Runtime, seq: int) -> dict[str, Any]:
    """One stored event row as the database holds it."""
    with rt.db.connect() as connection:
        row = (
            connection.execute(text("SELECT * FROM audit_event WHERE seq = :seq"), {"seq": seq})
            .mappings()
            .one()
        )
    return dict(row)


def forged(doc: str, **changes: Any) -> str:
    """An event text rewritten as an attacker would: parsed, fields changed, re-encoded."""
    document = json.loads(doc)
    document.update(changes)
    return canonical_json(document)


def rehash(doc: str) -> str:
    """The hash an attacker computes for a changed text (the algorithm is public)."""
    return hashlib.sha256(doc.encode()).hexdigest()


def check(rt: Runtime, **options: Any) -> VerifyResult:
    """Verify in a transaction of its own, as the CLI does."""
    with transaction(rt.sessions) as session:
        return verify(session, rt.trusted_keys(), **options)


def broken(result: VerifyResult) -> tuple[bool, int | None, Problem | None]:
    """The parts of a result the tamper tests compare."""
    return result.ok, result.first_bad_seq, result.problem
