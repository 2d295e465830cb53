"""A critical finding starts an out-of-cycle campaign installing a release that fixes it.

``start_out_of_cycle_campaign`` creates and starts, through the campaign service
(``medfleet.rollouts.service``), a ``critical`` campaign: it installs at once, outside the
maintenance windows, at the sites that consented to out-of-cycle installs, and inside their
windows everywhere else. It targets the devices of the release's model that run a release
exposed to the vulnerability (an active finding that VEX does not rule out,
``vex_service.exposed_findings``), through the selection's installed versions.

It is refused unless the vulnerability's assessment is critical, the release is released and
not withdrawn, has an SBOM and is not exposed to the vulnerability itself, and some device runs
an exposed release of that model. The release becomes the assessment's fixed release and the
campaign's start the time the fix was distributed (unless it was already). The audit event
``vulns.out_of_cycle_campaign`` on the assessment links the campaign (its key and id), next to
the campaign service's own events. Admins and fleet operators may start it (the roles the
campaign service requires); other manufacturer staff and hospital staff are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet.tables import Device
from medfleet.releases import records
from medfleet.releases.tables import Release
from medfleet.rollouts import service as campaigns
from medfleet.rollouts.campaign_access import check_rollable
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.tables import Campaign
from medfleet.vulns.assessments import OBJECT_TYPE, check_reader, find_assessment
from medfleet.vulns.errors import AssessmentConflictError, FixReleaseError, VulnsPermissionError
from medfleet.vulns.tables import Sbom, Vulnerability
from medfleet.vulns.vex_service import exposed_findings

MANAGERS = (Role.ADMIN, Role.FLEET_OPERATOR)
DEFAULT_POLICY: Mapping[str, object] = {
    "phases": [{"name": "affected devices", "percent": 100}],
    "urgency": Urgency.CRITICAL.value,
}
"""Test devices first (the canary phase), then every other affected device at once."""


@dataclass(frozen=True, slots=True)
class OutOfCycleCampaign:
    """The campaign started for a vulnerability, and what it targets."""

    campaign: Campaign
    vulnerability: str
    release: str
    affected_versions: list[str]
    affected_devices: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "campaign": self.campaign.key,
            "campaign_id": self.campaign.id,
            "state": self.campaign.state,
            "urgency": self.campaign.urgency,
            "vulnerability": self.vulnerability,
            "release": self.release,
            "affected_versions": self.affected_versions,
            "affected_devices": self.affected_devices,
            "plan": self.campaign.plan_summary,
        }


def check_manager(principal: Principal) -> None:
    """Only the manufacturer's admins and fleet operators start campaigns.

    Raises:
        VulnsPermissionError: hospital staff, or manufacturer staff without one of those roles.
    """
    check_reader(principal)
    if not principal.has_any(*MANAGERS):
        raise VulnsPermissionError("starting a campaign needs the admin or fleet_operator role")


def _check_fix(session: Session, release: Release, vulnerability: Vulnerability) -> None:
    check_rollable(release)
    if session.scalar(select(Sbom.id).where(Sbom.release_pk == release.id)) is None:
        raise FixReleaseError(
            f"release {release.release_id} has no SBOM, so nothing shows that it no longer "
            f"carries {vulnerability.key}; import its SBOM first"
        )


def _exposed_releases(
    session: Session, vulnerability: Vulnerability, release: Release
) -> list[Release]:
    """The releases of ``release``'s model exposed to ``vulnerability``, oldest first.

    Raises:
        FixReleaseError: ``release`` is one of them.
        AssessmentConflictError: there are none.
    """
    pks = {finding.release_pk for finding in exposed_findings(session, vulnerability.id)}
    if release.id in pks:
        raise FixReleaseError(
            f"release {release.release_id} is itself affected by {vulnerability.key}"
        )
    exposed = list(
        session.scalars(
            select(Release)
            .where(
                Release.id.in_(pks),
                Release.org_id == release.org_id,
                Release.model == release.model,
            )
            .order_by(Release.version_number)
        )
    )
    if not exposed:
        raise AssessmentConflictError(
            f"no release of {release.model} carries {vulnerability.key}; nothing to fix"
        )
    return exposed


def start_out_of_cycle_campaign(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    id_or_alias: str,
    *,
    model: str,
    version: str,
    now: datetime,
    policy: Mapping[str, object] | None = None,
    name: str | None = None,
) -> OutOfCycleCampaign:
    """Create and start a critical campaign installing ``model`` ``version`` on the devices
    that run a release exposed to the vulnerability (see the module docstring).

    ``policy`` is a campaign policy (``policy_parse.parse_policy``; default: test devices,
    then all others); its urgency is always ``critical``. ``name`` defaults to "Out-of-cycle
    fix for <key>".

    Raises:
        VulnsPermissionError: as ``check_manager``.
        VulnerabilityNotFoundError, AssessmentNotFoundError: as ``find_assessment``.
        AssessmentConflictError: the assessment is not critical, no release of the model is
            exposed, or no device runs one.
        ReleaseNotFoundError: no such release of the caller's organization.
        CampaignReleaseError: the release is not released, or withdrawn.
        FixReleaseError: the release has no SBOM or is exposed itself.
        InvalidPolicyError, InvalidCampaignError: a bad policy or name.
    """
    check_manager(principal)
    assessment = find_assessment(session, principal, id_or_alias)
    vulnerability = session.get_one(Vulnerability, assessment.vulnerability_id)
    if not assessment.critical:
        raise AssessmentConflictError(
            f"{vulnerability.key} is not assessed as critical; only a critical finding may start "
            "an out-of-cycle campaign (re-assess it with --critical first)"
        )
    release = records.get(session, principal, model, version)
    _check_fix(session, release, vulnerability)
    exposed = _exposed_releases(session, vulnerability, release)
    numbers = [r.version_number for r in exposed]
    devices = session.scalar(
        select(func.count(Device.id)).where(
            Device.model == model, Device.installed_version_number.in_(numbers)
        )
    )
    if not devices:
        raise AssessmentConflictError(
            f"no {model} device runs a release affected by {vulnerability.key}"
        )
    campaign = campaigns.create_campaign(
        session,
        audit,
        principal,
        model=model,
        version=version,
        name=name or f"Out-of-cycle fix for {vulnerability.key}",
        policy=policy or DEFAULT_POLICY,
        selection={"models": [model], "current_versions": numbers},
        urgency=Urgency.CRITICAL.value,
    )
    campaigns.start(session, audit, principal, campaign.key)
    previous_fix = assessment.fixed_release_pk
    assessment.fixed_release_pk = release.id
    if assessment.fix_distributed_at is None:
        assessment.fix_distributed_at = campaign.started_at or now
    started = OutOfCycleCampaign(
        campaign, vulnerability.key, release.release_id, [r.version for r in exposed], devices
    )
    payload: dict[str, Any] = {
        **started.as_dict(),
        "previous_fixed_release": None
        if previous_fix is None
        else session.get_one(Release, previous_fix).release_id,
        "fix_distributed_at": assessment.fix_distributed_at.isoformat(),
    }
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "vulns.out_of_cycle_campaign",
            OBJECT_TYPE,
            str(assessment.id),
            payload,
        ),
    )
    return started
