"""Rollback campaigns: return the devices a campaign updated to the release they ran before.

``create_rollback`` takes the devices that succeeded in an update campaign and plans a campaign
of kind ``rollback`` back to one earlier release, through ``compat.route_rollback``: a device
takes part only if that release is the one it ran just before the campaign's final install
(the version its committed install attempt attested as its ``from`` version), the release is
not withdrawn and runs on the device's hardware. Without ``version``, the release most of the
devices ran before is chosen; devices that ran another one are left out (the plan's summary
counts them as ``not_previous_release``) and can be returned by another rollback campaign with
that version. The original must not be running or scheduled (pause or abort it first), so that
no device is moved forwards and backwards at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.service import AuditLog
from medfleet.releases.tables import Release
from medfleet.rollouts.campaign_access import (
    check_manager,
    check_name,
    check_rollable,
    find_campaign,
    parse_urgency,
)
from medfleet.rollouts.campaign_errors import CampaignNotFoundError, InvalidCampaignError
from medfleet.rollouts.campaign_model import DeviceStatus
from medfleet.rollouts.campaign_rows import event
from medfleet.rollouts.compat import release_info
from medfleet.rollouts.errors import CampaignStateError
from medfleet.rollouts.fleet_loader import load_fleet, plan_and_store
from medfleet.rollouts.model import CampaignKind, CampaignState
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.selection import Selection
from medfleet.rollouts.service import new_campaign
from medfleet.rollouts.tables import Campaign, CampaignDevice

DEFAULT_POLICY: Mapping[str, object] = {
    "phases": [{"name": "all", "percent": 100, "success_threshold": 100, "error_threshold": 0}]
}
"""One phase after the canary phase; any failure pauses the rollback for people to decide."""


def _previous_versions(session: Session, campaign: Campaign) -> dict[int, int | None]:
    rows = session.execute(
        select(CampaignDevice.device_pk, CampaignDevice.from_version_number).where(
            CampaignDevice.campaign_id == campaign.id,
            CampaignDevice.status == DeviceStatus.SUCCEEDED.value,
        )
    )
    return {row.device_pk: row.from_version_number for row in rows}


def _target(
    session: Session, original: Campaign, previous: Mapping[int, int | None], version: str | None
) -> Release:
    model = session.get(Release, original.release_pk)
    assert model is not None  # a foreign key
    statement = select(Release).where(
        Release.org_id == original.org_id, Release.model == model.model
    )
    if version is not None:
        found = session.scalar(statement.where(Release.version == version))
        if found is None:
            raise CampaignNotFoundError(f"no release {model.model} {version}")
        return found
    common = Counter(number for number in previous.values() if number is not None)
    if not common:
        raise InvalidCampaignError(
            f"no device of {original.key} attested which version it ran before; "
            "name the release to return to (version)"
        )
    number = max(common, key=lambda n: (common[n], n))
    found = session.scalar(statement.where(Release.version_number == number))
    if found is None:
        raise InvalidCampaignError(
            f"the devices ran version number {number} before, which is no release of "
            f"{model.model}; name the release to return to (version)"
        )
    return found


def create_rollback(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    *,
    name: str | None = None,
    version: str | None = None,
    policy: Mapping[str, object] | None = None,
    urgency: str | None = None,
) -> Campaign:
    """A draft rollback campaign for the devices that succeeded in campaign ``key`` (see the
    module docstring). ``policy`` defaults to ``DEFAULT_POLICY`` with the original's urgency.

    Raises:
        CampaignNotFoundError, CampaignNotAllowedError: as ``service.find_campaign`` and
            ``service.check_manager``; also no such release ``version``.
        CampaignStateError: the original is running or scheduled, or is itself a rollback.
        InvalidCampaignError: no succeeded device, no known previous release, a bad name
            or urgency.
        CampaignReleaseError: the release to return to is not released, or withdrawn.
        InvalidPolicyError: the policy, naming the offending field.
    """
    check_manager(principal)
    original = find_campaign(session, principal, key)
    if original.kind != CampaignKind.UPDATE:
        raise CampaignStateError(f"{original.key} is a rollback campaign itself")
    if original.state in (CampaignState.RUNNING, CampaignState.SCHEDULED):
        raise CampaignStateError(
            f"{original.key} is {original.state}; pause or abort it before rolling back"
        )
    previous = _previous_versions(session, original)
    if not previous:
        raise InvalidCampaignError(f"no device succeeded in {original.key}: nothing to roll back")
    target = _target(session, original, previous, version)
    check_rollable(target)
    document = dict(policy) if policy is not None else {**DEFAULT_POLICY}
    document.setdefault("urgency", original.urgency)
    if urgency is not None:
        document["urgency"] = parse_urgency(urgency).value
    parsed = parse_policy(document)
    title = check_name(
        name if name is not None else f"Rollback of {original.key} to {target.version}"
    )
    now = audit.clock.now()
    selection = Selection()
    campaign = new_campaign(
        session,
        principal,
        name=title,
        release=target,
        kind=CampaignKind.ROLLBACK,
        selection=selection,
        policy=parsed,
        now=now,
        rollback_of=original.id,
    )
    plan = plan_and_store(
        session,
        campaign,
        fleet=load_fleet(
            session, target.model, device_pks=list(previous), previous_versions=previous
        ),
        kind=CampaignKind.ROLLBACK,
        selection=selection,
        policy=parsed,
        target=release_info(target),
        available=[],
        now=now,
    )
    campaign.plan_summary = plan.summary()
    payload = {
        "name": title,
        "release": target.release_id,
        "kind": campaign.kind,
        "urgency": campaign.urgency,
        "rollback_of": original.key,
        "policy": campaign.policy,
        "plan": {
            "in_campaign": sum(plan.phase_counts),
            "phases": list(plan.phase_counts),
            "statuses": {s.code: n for s, n in plan.status_counts.items() if n},
        },
    }
    audit.record(session, event(campaign, principal.actor, "created", payload))
    return campaign
