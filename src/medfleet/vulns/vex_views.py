"""What ``vex show`` and ``GET …/vex`` return: a release's statements and its findings' VEX.

The statements are those in force (or, with ``history``, every one, newest first); the findings
are the release's active findings with the statement holding for each and whether it still
counts as exposure. Visibility is ``vex_service.readable_release``'s.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.vulns.identity import find_vulnerability
from medfleet.vulns.tables import VexStatement, Vulnerability
from medfleet.vulns.vex_service import (
    findings_with_vex,
    readable_release,
    statement_history,
    statement_payload,
    statements_in_force,
)


def statement_dict(session: Session, statement: VexStatement) -> dict[str, Any]:
    """A statement as a JSON document."""
    vulnerability = session.get_one(Vulnerability, statement.vulnerability_id)
    return {
        "id": statement.id,
        "vulnerability": vulnerability.key,
        "recorded_at": statement.recorded_at.isoformat(),
        **statement_payload(statement),
    }


def release_view(
    session: Session,
    principal: Principal,
    model: str,
    version: str,
    *,
    vulnerability: str | None = None,
    history: bool = False,
) -> dict[str, Any]:
    """A release's VEX statements and its active findings' VEX, optionally for one vulnerability.

    Raises:
        ReleaseNotFoundError: the caller may not see the release.
        VulnerabilityNotFoundError: ``vulnerability`` names none.
    """
    release = readable_release(session, principal, model, version)
    vulnerability_id = find_vulnerability(session, vulnerability).id if vulnerability else None
    rows = (
        statement_history(session, release, vulnerability_id)
        if history
        else statements_in_force(session, release, vulnerability_id)
    )
    findings = findings_with_vex(
        session,
        release_pk=release.id,
        vulnerability_ids=None if vulnerability_id is None else [vulnerability_id],
    )
    return {
        "release": release.release_id,
        "model": release.model,
        "version": release.version,
        "history": history,
        "statements": [statement_dict(session, row) for row in rows],
        "findings": [
            {
                "finding_id": entry.finding.id,
                "vulnerability": session.get_one(Vulnerability, entry.finding.vulnerability_id).key,
                "component": entry.component_ref,
                "state": entry.statement.state if entry.statement else None,
                "statement_id": entry.statement.id if entry.statement else None,
                "exposed": entry.exposed,
            }
            for entry in findings
        ],
    }
