"""Helpers for the risk tests: a change request, and proposals in one transaction each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select

from medfleet.audit.tables import AuditEventRow
from medfleet.changes import service as changes
from medfleet.db.engine import transaction
from medfleet.risk.tables import RiskDeltaEntryRow, RiskItemRow
from medfleet.runtime import Runtime
from tests.builders import World

T = TypeVar("T")

HAZARD = {"title": "Over-infusion", "description": "Too much drug delivered"}


def situation(hazard: str = "H-1", severity: int = 4, probability: int = 3) -> dict[str, Any]:
    """Fields of a situation with an unacceptable initial risk by default (4 x 3)."""
    return {
        "hazard": hazard,
        "sequence": "Pump keeps running after the occlusion alarm",
        "harm": "Overdose",
        "severity": severity,
        "probability": probability,
    }


def control(*situations: str, kind: str = "protective_measure") -> dict[str, Any]:
    """Fields of a control acting on ``situations``."""
    return {
        "title": "Motor stop on occlusion",
        "kind": kind,
        "situations": list(situations),
        "description": "Hardware interlock",
        "verification": "SRS-12 tests T-40..T-44",
    }


def run(runtime: Runtime, use_case: Callable[..., T], *args: Any) -> T:
    """``use_case(session, audit, *args)`` in its own transaction."""
    with transaction(runtime.sessions) as session:
        return use_case(session, runtime.audit, *args)


def open_cr(runtime: Runtime, world: World, title: str = "Fix occlusion handling") -> str:
    """A new change request by the engineer; its key."""
    with transaction(runtime.sessions) as session:
        return changes.create(session, runtime.audit, world.engineer, title, "").key


def counts(runtime: Runtime) -> tuple[int, int, int]:
    """(audit events, delta entries, item versions)."""
    with transaction(runtime.sessions) as session:
        return (
            session.scalar(select(func.count(AuditEventRow.seq))) or 0,
            session.scalar(select(func.count(RiskDeltaEntryRow.id))) or 0,
            session.scalar(select(func.count(RiskItemRow.id))) or 0,
        )


def cr_id(runtime: Runtime, world: World, key: str) -> int:
    """The id of a change request by key."""
    with transaction(runtime.sessions) as session:
        return changes.get(session, world.engineer, key).id
