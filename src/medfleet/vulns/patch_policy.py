"""The manufacturer's declared patch policy: its routine cycle and uncontrolled-risk deadlines.

One policy per manufacturer; until one is declared the defaults apply (a 90-day routine cycle,
customers informed within 30 days and the fix distributed within 60, the FDA guidance's
periods). Declaring one replaces the earlier (audit event ``vulns.patch_policy_set`` with the
previous terms); it applies to the assessments made from then on, never to deadlines already
computed (``medfleet.vulns.assessments``). Manufacturer staff read it; engineers, QA/RA and
admins change it; hospital staff are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.accounts.tables import User
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.vulns.assessments import check_assessor, check_reader, current_terms, iso
from medfleet.vulns.deadlines import PatchTerms, patch_terms
from medfleet.vulns.tables import PatchPolicy


@dataclass(frozen=True, slots=True)
class PolicyView:
    """The organization's patch terms; ``declared`` is false while the defaults apply."""

    terms: PatchTerms
    declared: bool
    updated_by: str | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            **self.terms.as_dict(),
            "declared": self.declared,
            "updated_by": self.updated_by,
            "updated_at": iso(self.updated_at),
        }


def get_policy(session: Session, principal: Principal) -> PolicyView:
    """The caller's organization's patch policy.

    Raises:
        VulnsPermissionError: hospital staff.
    """
    check_reader(principal)
    row = session.get(PatchPolicy, principal.org_id)
    if row is None:
        return PolicyView(PatchTerms(), declared=False)
    user = session.get_one(User, row.updated_by)
    terms = PatchTerms(row.routine_cycle_days, row.inform_within_days, row.fix_within_days)
    return PolicyView(terms, True, user.username, row.updated_at)


def set_policy(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    routine_cycle_days: int,
    inform_within_days: int,
    fix_within_days: int,
    now: datetime,
) -> PolicyView:
    """Declare (or replace) the organization's patch policy (``deadlines.patch_terms`` rules).

    Applies to assessments made from now on; stored deadlines do not move.

    Raises:
        VulnsPermissionError: as ``check_assessor``.
        InvalidAssessmentError: days out of range, or informing later than fixing.
    """
    check_assessor(principal)
    terms = patch_terms(routine_cycle_days, inform_within_days, fix_within_days)
    row = session.get(PatchPolicy, principal.org_id, with_for_update=True)
    previous = None if row is None else current_terms(session, principal.org_id).as_dict()
    if row is None:
        row = PatchPolicy(org_id=principal.org_id)
        session.add(row)
    row.routine_cycle_days = terms.routine_cycle_days
    row.inform_within_days = terms.inform_within_days
    row.fix_within_days = terms.fix_within_days
    row.updated_by = principal.user_id
    row.updated_at = now
    session.flush()
    payload = {**terms.as_dict(), "previous": previous}
    audit.record(
        session,
        NewEvent(
            principal.actor, principal.org_id, "vulns.patch_policy_set", "patch_policy",
            str(principal.org_id), payload,
        ),
    )  # fmt: skip
    return PolicyView(terms, True, principal.username, now)
