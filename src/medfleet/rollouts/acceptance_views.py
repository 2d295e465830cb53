"""What hospitals and campaigns read about acceptance: pending releases and site stances.

``pending_releases`` is a hospital's inbox: each released (not withdrawn) release of a model
the hospital runs, that at least one of its devices could install (a supported hardware
revision, an older version), with the notes a biomed engineer needs to decide — what changed
and why, the risk summary, expected downtime, compatibility — and, per site, how many test and
production devices it concerns and what the site decided. ``site_stances`` is the campaign
scheduler's question: how every site stands towards a release for a campaign's urgency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Site
from medfleet.fleet.tables import Device
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.acceptance import released
from medfleet.rollouts.acceptance_model import (
    AutoApproval,
    Decision,
    SiteDecision,
    SiteStance,
    Urgency,
    stance,
)
from medfleet.rollouts.acceptance_policies import as_rule
from medfleet.rollouts.acceptance_tables import AutoApprovalPolicy, SiteAcceptance


@dataclass
class SiteStatus:
    """One site's devices concerned by a release and its decision on it."""

    site_id: int
    site: str
    org_id: int
    test_devices: int = 0
    production_devices: int = 0
    decision: str | None = None
    production_confirmed: bool = False
    out_of_cycle_consent: bool = False
    routine: dict[str, object] = field(default_factory=dict)
    critical: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "site_id": self.site_id,
            "site": self.site,
            "org_id": self.org_id,
            "test_devices": self.test_devices,
            "production_devices": self.production_devices,
            "decision": self.decision,
            "production_confirmed": self.production_confirmed,
            "out_of_cycle_consent": self.out_of_cycle_consent,
            "stance_routine": self.routine,
            "stance_critical": self.critical,
        }


@dataclass
class PendingRelease:
    """A release some of the hospital's devices could take, with its notes and per-site state."""

    release: Release
    sites: list[SiteStatus]

    @property
    def undecided(self) -> bool:
        """True while some concerned site has not decided."""
        return any(site.decision is None for site in self.sites)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        release = self.release
        return {
            "model": release.model,
            "version": release.version,
            "version_number": release.version_number,
            "released_at": None if release.released_at is None else release.released_at.isoformat(),
            "hardware_revisions": list(release.hardware_revisions),
            "min_from_version_number": release.min_from_version_number,
            "notes": {
                "what_changed": release.notes_what_changed,
                "risk_summary": release.notes_risk_summary,
                "expected_downtime_minutes": release.notes_downtime_minutes,
                "compatibility": release.notes_compatibility,
            },
            "undecided": self.undecided,
            "sites": [site.as_dict() for site in self.sites],
        }


def _concerned_sites(
    session: Session, release: Release, org_id: int | None
) -> dict[int, SiteStatus]:
    """Per site: the test and production devices of ``release``'s model it could install."""
    statement = (
        select(Device.site_id, Site.name, Site.org_id, Device.is_test_device, func.count())
        .join(Site, Site.id == Device.site_id)
        .where(
            Device.model == release.model,
            Device.hardware_revision.in_(release.hardware_revisions),
            or_(
                Device.installed_version_number.is_(None),
                Device.installed_version_number < release.version_number,
            ),
        )
        .group_by(Device.site_id, Site.name, Site.org_id, Device.is_test_device)
    )
    if org_id is not None:
        statement = statement.where(Device.org_id == org_id)
    sites: dict[int, SiteStatus] = {}
    for site_id, name, site_org, is_test, count in session.execute(statement):
        assert site_id is not None  # the inner join to Site leaves only sited devices
        status = sites.setdefault(site_id, SiteStatus(site_id, name, site_org))
        if is_test:
            status.test_devices += count
        else:
            status.production_devices += count
    return sites


def _fill_stances(session: Session, release: Release, sites: dict[int, SiteStatus]) -> None:
    decisions = _decisions(session, release.id, sites)
    policies = _policies(session, {status.org_id for status in sites.values()})
    for site_id, status in sites.items():
        row = decisions.get(site_id)
        if row is not None:
            status.decision = row.decision.value
            status.production_confirmed = row.production_confirmed_at is not None
            status.out_of_cycle_consent = row.out_of_cycle_consent
        rules = policies.get(status.org_id, [])
        status.routine = stance(site_id, Urgency.ROUTINE, row, rules).as_dict()
        status.critical = stance(site_id, Urgency.CRITICAL, row, rules).as_dict()


def _decisions(
    session: Session, release_pk: int, site_ids: Iterable[int]
) -> dict[int, SiteDecision]:
    rows = session.scalars(
        select(SiteAcceptance).where(
            SiteAcceptance.release_pk == release_pk, SiteAcceptance.site_id.in_(list(site_ids))
        )
    )
    return {
        row.site_id: SiteDecision(
            Decision(row.decision), row.production_confirmed_at, row.out_of_cycle_consent
        )
        for row in rows
    }


def _policies(session: Session, org_ids: Iterable[int]) -> dict[int, list[AutoApproval]]:
    found: dict[int, list[AutoApproval]] = defaultdict(list)
    for policy in session.scalars(
        select(AutoApprovalPolicy).where(AutoApprovalPolicy.org_id.in_(list(org_ids)))
    ):
        found[policy.org_id].append(as_rule(policy))
    return found


def pending_releases(
    session: Session, principal: Principal, *, include_decided: bool = False
) -> list[PendingRelease]:
    """The releases the caller's hospital's devices could take (see the module docstring).

    Manufacturer staff see every hospital's sites. Without ``include_decided``, releases every
    concerned site has decided on are left out.
    """
    org_id = principal.org_id if principal.org_kind is OrgKind.HOSPITAL else None
    models = select(Device.model).distinct()
    if org_id is not None:
        models = models.where(Device.org_id == org_id)
    releases = session.scalars(
        select(Release)
        .where(Release.state == ReleaseState.RELEASED, Release.model.in_(models))
        .order_by(Release.model, Release.version_number)
    )
    pending = []
    for release in releases:
        sites = _concerned_sites(session, release, org_id)
        if not sites:
            continue
        _fill_stances(session, release, sites)
        entry = PendingRelease(release, sorted(sites.values(), key=lambda s: (s.org_id, s.site)))
        if include_decided or entry.undecided:
            pending.append(entry)
    return pending


def release_status(
    session: Session, principal: Principal, model: str, version: str
) -> PendingRelease:
    """How every concerned site (the caller's only, for a hospital) stands on one release.

    Raises:
        AcceptanceNotFoundError: no such released release.
    """
    release = released(session, model, version)
    org_id = principal.org_id if principal.org_kind is OrgKind.HOSPITAL else None
    sites = _concerned_sites(session, release, org_id)
    _fill_stances(session, release, sites)
    return PendingRelease(release, sorted(sites.values(), key=lambda s: (s.org_id, s.site)))


def site_stances(
    session: Session, release_pk: int, urgency: Urgency, site_ids: Iterable[int]
) -> dict[int, SiteStance]:
    """Every listed site's stance towards a release for a campaign of ``urgency``.

    For the campaign scheduler (no principal: the scheduler acts for the manufacturer).
    """
    wanted = list(site_ids)
    org_of = dict(session.execute(select(Site.id, Site.org_id).where(Site.id.in_(wanted))).all())
    decisions = _decisions(session, release_pk, wanted)
    policies = _policies(session, set(org_of.values()))
    return {
        site_id: stance(site_id, urgency, decisions.get(site_id), policies.get(org_of[site_id], []))
        for site_id in wanted
        if site_id in org_of
    }
