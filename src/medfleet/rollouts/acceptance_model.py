"""Pure rules of hospital acceptance: how a site stands towards one release in one campaign.

A hospital decides per site: it approves (or declines) a release after reading its notes, and
later confirms that production devices may follow once its test devices installed it. Instead
of deciding each release, a hospital may set an auto-approval policy per urgency (for one site
or all of its sites), which can also confirm production and, for critical updates, consent to
installing out of cycle (outside the maintenance windows) in advance.

``stance`` combines one site's explicit decision (if any) with its policies for a campaign's
urgency. An explicit decision always wins over a policy: a site that declined is never
auto-approved, and a site's own policy wins over its hospital-wide one. No I/O here.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from medfleet.rollouts.model import Urgency

__all__ = [
    "NO_STANCE",
    "AutoApproval",
    "Decision",
    "SiteDecision",
    "SiteStance",
    "Source",
    "Urgency",
    "stance",
]


class Decision(enum.StrEnum):
    """What a site said about a release."""

    APPROVED = "approved"
    DECLINED = "declined"


class Source(enum.StrEnum):
    """Where a site's stance comes from."""

    DECISION = "decision"
    POLICY = "policy"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class SiteDecision:
    """A site's explicit decision on a release."""

    decision: Decision
    production_confirmed_at: datetime | None
    out_of_cycle_consent: bool


@dataclass(frozen=True, slots=True)
class AutoApproval:
    """A standing policy: approve releases of campaigns with ``urgency`` automatically.

    ``site_id`` None means every site of the hospital.
    """

    site_id: int | None
    urgency: Urgency
    confirm_production: bool
    out_of_cycle: bool


@dataclass(frozen=True, slots=True)
class SiteStance:
    """Whether a site takes a release in a campaign, and on which terms."""

    accepted: bool
    production_confirmed: bool
    out_of_cycle_consent: bool
    source: Source

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "accepted": self.accepted,
            "production_confirmed": self.production_confirmed,
            "out_of_cycle_consent": self.out_of_cycle_consent,
            "source": self.source.value,
        }


NO_STANCE = SiteStance(False, False, False, Source.NONE)


def _policy_for(
    site_id: int, urgency: Urgency, policies: Sequence[AutoApproval]
) -> AutoApproval | None:
    matching = [p for p in policies if p.urgency is urgency and p.site_id in (site_id, None)]
    own = [p for p in matching if p.site_id == site_id]
    chosen = own or matching
    return chosen[0] if chosen else None


def stance(
    site_id: int,
    urgency: Urgency,
    decision: SiteDecision | None,
    policies: Sequence[AutoApproval],
) -> SiteStance:
    """How ``site_id`` stands towards a release in a campaign of ``urgency``.

    ``policies`` are the site's hospital's auto-approvals (any site; those of other sites are
    ignored). Out-of-cycle consent only ever counts for critical campaigns.
    """
    critical = urgency is Urgency.CRITICAL
    if decision is not None:
        approved = decision.decision is Decision.APPROVED
        return SiteStance(
            approved,
            approved and decision.production_confirmed_at is not None,
            approved and critical and decision.out_of_cycle_consent,
            Source.DECISION,
        )
    policy = _policy_for(site_id, urgency, policies)
    if policy is None:
        return NO_STANCE
    return SiteStance(
        True, policy.confirm_production, critical and policy.out_of_cycle, Source.POLICY
    )
