"""Acceptance rows as JSON, the same for the API and ``medfleet acceptance --json``."""

from __future__ import annotations

from typing import Any

from medfleet.rollouts.acceptance_tables import AutoApprovalPolicy, SiteAcceptance


def decision_dict(row: SiteAcceptance) -> dict[str, Any]:
    """A site's decision on a release."""
    confirmed = row.production_confirmed_at
    return {
        "site_id": row.site_id,
        "decision": row.decision,
        "comment": row.comment,
        "out_of_cycle_consent": row.out_of_cycle_consent,
        "decided_at": row.decided_at.isoformat(),
        "production_confirmed_at": None if confirmed is None else confirmed.isoformat(),
    }


def policy_dict(policy: AutoApprovalPolicy) -> dict[str, Any]:
    """An auto-approval policy."""
    return {
        "id": policy.id,
        "org_id": policy.org_id,
        "site_id": policy.site_id,
        "urgency": policy.urgency,
        "confirm_production": policy.confirm_production,
        "out_of_cycle": policy.out_of_cycle,
    }
