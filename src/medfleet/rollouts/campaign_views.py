"""Reading campaigns: one campaign with its progress per phase, the list, and its devices.

Manufacturer staff read every campaign of their organization; hospital staff see none (a
campaign is "not found", the list is empty). The dictionaries here are what the API returns
and the CLI prints with ``--json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from medfleet.accounts.model import OrgKind, Principal
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.rollouts.campaign_access import find_campaign
from medfleet.rollouts.campaign_errors import InvalidCampaignError
from medfleet.rollouts.campaign_model import DeviceStatus, phase_stats
from medfleet.rollouts.campaign_rows import status_counts
from medfleet.rollouts.model import CampaignState, allowed_actions
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.tables import Campaign, CampaignDevice

MAX_PAGE = 1000


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def campaign_dict(
    campaign: Campaign,
    release: Release,
    counts: Mapping[tuple[int, str], int],
    rollback_of: str | None = None,
) -> dict[str, Any]:
    """A campaign as JSON: its release, selection, policy, state and progress per phase."""
    policy = parse_policy(campaign.policy)
    stats = phase_stats(counts, policy.phase_count)
    phases = []
    for index, stat in enumerate(stats):
        phase = policy.phase(index)
        by_status = {status.value: counts.get((index, status.value), 0) for status in DeviceStatus}
        phases.append(
            {
                "phase": index,
                "name": phase.name,
                "success_threshold": phase.success_threshold,
                "error_threshold": phase.error_threshold,
                "started": index <= campaign.current_phase,
                "devices": sum(by_status.values()),
                "taking_part": stat.total,
                "statuses": by_status,
            }
        )
    totals = {status.value: 0 for status in DeviceStatus}
    for (_phase, status), count in counts.items():
        totals[status] = totals.get(status, 0) + count
    return {
        "key": campaign.key,
        "name": campaign.name,
        "org_id": campaign.org_id,
        "release": {
            "model": release.model,
            "version": release.version,
            "release_id": release.release_id,
            "state": release.state,
        },
        "kind": campaign.kind,
        "urgency": campaign.urgency,
        "state": campaign.state,
        "allowed_actions": [a.value for a in allowed_actions(CampaignState(campaign.state))],
        "selection": campaign.selection,
        "policy": campaign.policy,
        "current_phase": campaign.current_phase,
        "acknowledged_failures": list(campaign.acknowledged),
        "devices": sum(totals.values()),
        "statuses": totals,
        "phases": phases,
        "plan": campaign.plan_summary,
        "created_at": campaign.created_at.isoformat(),
        "scheduled_for": _iso(campaign.scheduled_for),
        "started_at": _iso(campaign.started_at),
        "paused_at": _iso(campaign.paused_at),
        "pause_reason": campaign.pause_reason,
        "finished_at": _iso(campaign.finished_at),
        "abort_reason": campaign.abort_reason,
        "rollback_of": rollback_of,
    }


def describe(session: Session, campaign: Campaign) -> dict[str, Any]:
    """``campaign_dict`` of a campaign row, reading its release and counts."""
    release = session.get(Release, campaign.release_pk)
    assert release is not None  # a foreign key
    original = session.get(Campaign, campaign.rollback_of) if campaign.rollback_of else None
    return campaign_dict(
        campaign,
        release,
        status_counts(session, campaign.id),
        None if original is None else original.key,
    )


def get_campaign(session: Session, principal: Principal, key: str) -> dict[str, Any]:
    """One campaign as JSON.

    Raises:
        CampaignNotFoundError: malformed key, no such campaign, or hospital staff.
    """
    return describe(session, find_campaign(session, principal, key))


def list_campaigns(
    session: Session, principal: Principal, *, state: str | None = None
) -> list[dict[str, Any]]:
    """The organization's campaigns, newest first (``state`` narrows them); hospital staff
    get an empty list.

    Raises:
        InvalidCampaignError: an unknown state.
    """
    if state is not None and state not in {s.value for s in CampaignState}:
        known = ", ".join(s.value for s in CampaignState)
        raise InvalidCampaignError(f"unknown campaign state {state!r} (known: {known})")
    if principal.org_kind is not OrgKind.MANUFACTURER:
        return []
    statement = select(Campaign).where(Campaign.org_id == principal.org_id)
    if state is not None:
        statement = statement.where(Campaign.state == state)
    campaigns = session.scalars(statement.order_by(Campaign.number.desc()))
    return [describe(session, campaign) for campaign in campaigns]


@dataclass(frozen=True)
class DeviceFilter:
    """Which devices of a campaign to list: by status and phase, one page."""

    status: str | None = None
    phase: int | None = None
    limit: int = 100
    offset: int = 0

    def checked(self) -> DeviceFilter:
        """This filter if it is valid.

        Raises:
            InvalidCampaignError: an unknown status, a negative phase or offset, a page size
                outside 1..1000.
        """
        if self.status is not None and self.status not in {s.value for s in DeviceStatus}:
            known = ", ".join(s.value for s in DeviceStatus)
            raise InvalidCampaignError(f"unknown device status {self.status!r} (known: {known})")
        if self.phase is not None and self.phase < 0:
            raise InvalidCampaignError("a phase is 0 (canary) or above")
        if not 1 <= self.limit <= MAX_PAGE or self.offset < 0:
            raise InvalidCampaignError(f"limit must be 1..{MAX_PAGE} and offset 0 or more")
        return self


def list_devices(
    session: Session, principal: Principal, key: str, where: DeviceFilter | None = None
) -> list[dict[str, Any]]:
    """The devices of campaign ``key`` (one page, in phase and device order) with their
    status, the release each installs now, its install window and outcome.

    Raises:
        CampaignNotFoundError: malformed key, no such campaign, or hospital staff.
        InvalidCampaignError: a bad filter.
    """
    campaign = find_campaign(session, principal, key)
    chosen = (where or DeviceFilter()).checked()
    step = aliased(Release)
    statement = (
        select(CampaignDevice, Device, step.version)
        .join(Device, Device.id == CampaignDevice.device_pk)
        .outerjoin(step, step.id == CampaignDevice.step_release_pk)
        .where(CampaignDevice.campaign_id == campaign.id)
    )
    if chosen.status is not None:
        statement = statement.where(CampaignDevice.status == chosen.status)
    if chosen.phase is not None:
        statement = statement.where(CampaignDevice.phase == chosen.phase)
    statement = (
        statement.order_by(CampaignDevice.phase, CampaignDevice.device_pk)
        .limit(chosen.limit)
        .offset(chosen.offset)
    )
    return [
        device_dict(row, device, version) for row, device, version in session.execute(statement)
    ]


def device_dict(row: CampaignDevice, device: Device, step_version: str | None) -> dict[str, Any]:
    """One device of a campaign as JSON."""
    return {
        "device_id": device.device_id,
        "org_id": device.org_id,
        "site_id": device.site_id,
        "is_test_device": device.is_test_device,
        "hardware_revision": device.hardware_revision,
        "installed_version": device.installed_version,
        "phase": row.phase,
        "status": row.status,
        "step_version": step_version,
        "hops": row.hops,
        "start_version_number": row.start_version_number,
        "from_version_number": row.from_version_number,
        "assigned_at": _iso(row.assigned_at),
        "install_window": None
        if row.install_after is None or row.install_before is None
        else {"start": row.install_after.isoformat(), "end": row.install_before.isoformat()},
        "finished_at": _iso(row.finished_at),
        "attempt_id": row.attempt_id,
        "detail": row.detail,
    }
