"""Helpers for the traceability tests: requirements, risk controls (via risk/), JUnit imports."""

from __future__ import annotations

from medfleet.accounts.model import Principal
from medfleet.changes import service as changes
from medfleet.db.engine import transaction
from medfleet.risk import proposals
from medfleet.risk.items import ItemKind
from medfleet.runtime import Runtime
from medfleet.trace import runs, service
from medfleet.trace.runs import ImportOutcome


def open_change(runtime: Runtime, who: Principal, title: str = "Fix alarm") -> str:
    """A new change request; its key."""
    with transaction(runtime.sessions) as session:
        return changes.create(session, runtime.audit, who, title, "why").key


def add_requirement(
    runtime: Runtime, who: Principal, key: str, text: str = "The pump shall alarm.", **kw: str
) -> None:
    """A requirement at version 1 (kind safety, item 'pump' unless given)."""
    with transaction(runtime.sessions) as session:
        service.create_requirement(
            session,
            runtime.audit,
            who,
            key,
            kw.get("title", f"Title of {key}"),
            text,
            kw.get("kind", "safety"),
            kw.get("item", "pump"),
            kw.get("change"),
        )


def add_controls(runtime: Runtime, who: Principal, count: int) -> list[str]:
    """``count`` risk controls proposed under a new change request (risk's ``control_keys``
    counts controls of open changes); their keys."""
    change = open_change(runtime, who, "risk controls")
    with transaction(runtime.sessions) as session:
        hazard = proposals.propose_addition(
            session, runtime.audit, who, change, ItemKind.HAZARD, {"title": "Occlusion"}
        ).key
        situation = proposals.propose_addition(
            session,
            runtime.audit,
            who,
            change,
            ItemKind.SITUATION,
            {
                "hazard": hazard,
                "sequence": "line kinks",
                "harm": "underdose",
                "severity": 3,
                "probability": 2,
            },
        ).key
        return [
            proposals.propose_addition(
                session,
                runtime.audit,
                who,
                change,
                ItemKind.CONTROL,
                {"title": f"control {n}", "kind": "protective_measure", "situations": [situation]},
            ).key
            for n in range(count)
        ]


def import_junit(
    runtime: Runtime, who: Principal, data: bytes, build: str, change: str | None = None
) -> ImportOutcome:
    """Import ``data`` for ``build``."""
    with transaction(runtime.sessions) as session:
        return runs.import_run(session, runtime.audit, who, data, build, "junit.xml", change)
