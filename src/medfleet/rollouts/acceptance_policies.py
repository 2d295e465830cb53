"""Auto-approval policies: a hospital approves campaigns of an urgency in advance.

A policy covers one site or (``site_id`` None) every site of the hospital, for routine or for
critical campaigns. It may also confirm production in advance (production devices still wait
for the site's test devices to succeed) and, for critical campaigns, consent to installing out
of cycle. Setting a policy for the same scope and urgency replaces it. Hospital admins and
biomed engineers manage their own hospital's policies; the manufacturer reads them all.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Site
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.rollouts.acceptance import DECIDERS
from medfleet.rollouts.acceptance_errors import (
    AcceptanceNotAllowedError,
    AcceptanceNotFoundError,
    InvalidAcceptanceError,
)
from medfleet.rollouts.acceptance_model import AutoApproval, Urgency
from medfleet.rollouts.acceptance_tables import AutoApprovalPolicy


def _require_hospital_decider(principal: Principal) -> None:
    if principal.org_kind is not OrgKind.HOSPITAL:
        raise AcceptanceNotAllowedError("auto-approval policies are set by the hospital")
    if not principal.has_any(*DECIDERS):
        raise AcceptanceNotAllowedError(
            "auto-approval policies need the hospital's admin or biomed role"
        )


def as_rule(policy: AutoApprovalPolicy) -> AutoApproval:
    """The pure form of a stored policy."""
    return AutoApproval(
        policy.site_id, Urgency(policy.urgency), policy.confirm_production, policy.out_of_cycle
    )


def set_policy(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    site_id: int | None,
    urgency: Urgency,
    confirm_production: bool = False,
    out_of_cycle: bool = False,
) -> AutoApprovalPolicy:
    """Create or replace the caller's hospital's policy for ``site_id`` (None: all sites).

    Raises:
        AcceptanceNotAllowedError: not the hospital's admin or biomed.
        AcceptanceNotFoundError: ``site_id`` is not one of the caller's sites.
        InvalidAcceptanceError: out-of-cycle consent on a routine policy.
    """
    _require_hospital_decider(principal)
    if site_id is not None:
        site = session.get(Site, site_id)
        if site is None or site.org_id != principal.org_id:
            raise AcceptanceNotFoundError(f"no site {site_id} of your hospital")
    if out_of_cycle and urgency is not Urgency.CRITICAL:
        raise InvalidAcceptanceError("only critical campaigns may install out of cycle")
    policy = session.scalar(
        select(AutoApprovalPolicy).where(
            AutoApprovalPolicy.org_id == principal.org_id,
            AutoApprovalPolicy.site_id.is_(None)
            if site_id is None
            else AutoApprovalPolicy.site_id == site_id,
            AutoApprovalPolicy.urgency == urgency.value,
        )
    )
    if policy is None:
        policy = AutoApprovalPolicy(org_id=principal.org_id, site_id=site_id, urgency=urgency.value)
        session.add(policy)
    policy.confirm_production = confirm_production
    policy.out_of_cycle = out_of_cycle
    policy.created_by = principal.user_id
    policy.created_at = audit.clock.now()
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "auto_approval.set",
            "auto_approval_policy",
            str(policy.id),
            {
                "site_id": site_id,
                "urgency": urgency.value,
                "confirm_production": confirm_production,
                "out_of_cycle": out_of_cycle,
            },
        ),
    )
    return policy


def remove_policy(session: Session, audit: AuditLog, principal: Principal, policy_id: int) -> None:
    """Remove one of the caller's hospital's policies.

    Raises:
        AcceptanceNotAllowedError: not the hospital's admin or biomed.
        AcceptanceNotFoundError: no such policy of the caller's hospital.
    """
    _require_hospital_decider(principal)
    policy = session.get(AutoApprovalPolicy, policy_id)
    if policy is None or policy.org_id != principal.org_id:
        raise AcceptanceNotFoundError(f"no auto-approval policy {policy_id}")
    session.delete(policy)
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "auto_approval.removed",
            "auto_approval_policy",
            str(policy_id),
            {"site_id": policy.site_id, "urgency": policy.urgency},
        ),
    )


def list_policies(session: Session, principal: Principal) -> list[AutoApprovalPolicy]:
    """The caller's hospital's policies; every hospital's for the manufacturer's staff."""
    statement = select(AutoApprovalPolicy).order_by(AutoApprovalPolicy.id)
    if principal.org_kind is OrgKind.HOSPITAL:
        statement = statement.where(AutoApprovalPolicy.org_id == principal.org_id)
    return list(session.scalars(statement))
