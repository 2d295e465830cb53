"""Install results into campaign device statuses: outcomes, hops, time-outs, withdrawn steps.

Report intake (``medfleet.fleet.report_intake``) stores an ``InstallAttempt`` for every install
a device's signed report says finished. ``record_outcomes`` matches them to the campaign's
instructed devices: an attempt counts for a device when it installed the device's current step
release (same version number), was received at or after the instruction, and was not counted
before (its id is above the last one the device consumed). The first such attempt decides:

* ``committed`` on the campaign's target: ``succeeded``;
* ``committed`` on an intermediate release: the hop is done and the device is routed on from
  there (``campaign_model.Router``): it waits for its next instruction, or succeeds when it
  already runs the target, or is cancelled when no path leads on any more;
* ``rolled_back`` / ``failed``: so.

A device whose instruction was withdrawn by a pause still counts a result that arrives later.
Every function runs in the scheduler's transaction, on a campaign row it has locked, and returns
the audit events of what changed; finished devices' instructions are marked for clearing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from medfleet.audit.model import NewEvent
from medfleet.fleet.downtime_tables import InstallAttempt
from medfleet.fleet.tables import Device
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.campaign_model import (
    REPORTED_OUTCOMES,
    DeviceStatus,
    Router,
    is_timed_out,
)
from medfleet.rollouts.campaign_rows import event, release_instructions
from medfleet.rollouts.compat import Ineligible, release_info
from medfleet.rollouts.fleet_loader import release_infos
from medfleet.rollouts.model import CampaignKind
from medfleet.rollouts.tables import Campaign, CampaignDevice

SYSTEM_ACTOR = "system:scheduler"
"""How the audit trail names the scheduler."""


def router_for(session: Session, campaign: Campaign, release: Release) -> Router:
    """How ``campaign`` (whose release is ``release``) routes its devices."""
    kind = CampaignKind(campaign.kind)
    available = (
        () if kind is CampaignKind.ROLLBACK else tuple(release_infos(session, release.model))
    )
    return Router(kind, release_info(release), available)


def _changes(row: CampaignDevice, **values: object) -> None:
    for name, value in values.items():
        setattr(row, name, value)


def record_outcomes(
    session: Session, campaign: Campaign, router: Router, now: datetime
) -> list[NewEvent]:
    """Read new install attempts of the campaign's instructed devices (see the module
    docstring); returns the audit event listing what each device did, if any did."""
    matched = session.execute(
        select(
            CampaignDevice,
            InstallAttempt,
            Device.device_id,
            Device.model,
            Device.hardware_revision,
        )
        .join(Release, Release.id == CampaignDevice.step_release_pk)
        .join(
            InstallAttempt,
            and_(
                InstallAttempt.device_pk == CampaignDevice.device_pk,
                InstallAttempt.target_version_number == Release.version_number,
                InstallAttempt.received_at >= CampaignDevice.assigned_at,
                InstallAttempt.id > func.coalesce(CampaignDevice.attempt_id, 0),
            ),
        )
        .join(Device, Device.id == CampaignDevice.device_pk)
        .where(
            CampaignDevice.campaign_id == campaign.id,
            CampaignDevice.status.in_([DeviceStatus.ASSIGNED.value, DeviceStatus.WAITING.value]),
            CampaignDevice.assigned_at.is_not(None),
        )
        .order_by(CampaignDevice.id, InstallAttempt.id)
    )
    seen: set[int] = set()
    done: dict[str, list[str]] = defaultdict(list)
    finished: list[int] = []
    for row, attempt, device_id, model, revision in matched:
        status = REPORTED_OUTCOMES.get(attempt.outcome)
        if row.id in seen or status is None:
            continue
        seen.add(row.id)
        finished.append(row.device_pk)
        common = {"attempt_id": attempt.id, "assigned_at": None}
        final = row.step_release_pk == campaign.release_pk
        if status is not DeviceStatus.SUCCEEDED or final:
            before = attempt.from_version_number
            _changes(row, status=status.value, finished_at=now, detail=attempt.detail, **common)
            if before is not None:
                row.from_version_number = before
            done[status.value].append(device_id)
            continue
        installed = attempt.target_version_number
        row.hops += 1
        if router.arrived(installed):
            _changes(row, status=DeviceStatus.SUCCEEDED.value, finished_at=now, **common)
            done[DeviceStatus.SUCCEEDED.value].append(device_id)
            continue
        step = router.next_step(model, revision, installed)
        if isinstance(step, Ineligible):
            _changes(
                row,
                status=DeviceStatus.CANCELLED.value,
                finished_at=now,
                detail=step.message,
                **common,
            )
            done[DeviceStatus.CANCELLED.value].append(device_id)
            continue
        _changes(
            row,
            status=DeviceStatus.WAITING.value,
            step_release_pk=step.release.pk,
            from_version_number=installed,
            install_after=None,
            install_before=None,
            **common,
        )
        done["hop_finished"].append(device_id)
    release_instructions(session, campaign.id, finished)
    if not done:
        return []
    return [event(campaign, SYSTEM_ACTOR, "devices_reported", dict(sorted(done.items())))]


def time_out(session: Session, campaign: Campaign, now: datetime) -> list[NewEvent]:
    """Instructed devices that reported no outcome in time (``campaign_model.is_timed_out``)
    become ``timed_out`` and lose their instruction; returns the audit event, if any."""
    rows = session.execute(
        select(
            CampaignDevice.id,
            CampaignDevice.device_pk,
            CampaignDevice.assigned_at,
            CampaignDevice.install_before,
            Device.device_id,
        )
        .join(Device, Device.id == CampaignDevice.device_pk)
        .where(
            CampaignDevice.campaign_id == campaign.id,
            CampaignDevice.status == DeviceStatus.ASSIGNED.value,
        )
    )
    expired = [
        (row_id, pk, device_id)
        for row_id, pk, assigned_at, before, device_id in rows
        if assigned_at is not None and is_timed_out(assigned_at, before, now)
    ]
    if not expired:
        return []
    ids = [row_id for row_id, _pk, _device in expired]
    for offset in range(0, len(ids), 1000):
        session.execute(
            update(CampaignDevice)
            .where(CampaignDevice.id.in_(ids[offset : offset + 1000]))
            .values(
                status=DeviceStatus.TIMED_OUT.value,
                finished_at=now,
                detail="no install result reported in time",
            )
        )
    release_instructions(session, campaign.id, [pk for _id, pk, _device in expired])
    devices = sorted(device for _id, _pk, device in expired)
    return [event(campaign, SYSTEM_ACTOR, "devices_timed_out", {"devices": devices})]


def withdrawn_steps(session: Session, campaign: Campaign) -> list[NewEvent]:
    """Instructions to install an intermediate release that was withdrawn meanwhile are
    withdrawn; the devices wait again and are routed around it (or let go) when next due."""
    rows = session.execute(
        select(CampaignDevice.id, CampaignDevice.device_pk, Device.device_id, Release.version)
        .join(Release, Release.id == CampaignDevice.step_release_pk)
        .join(Device, Device.id == CampaignDevice.device_pk)
        .where(
            CampaignDevice.campaign_id == campaign.id,
            CampaignDevice.status == DeviceStatus.ASSIGNED.value,
            Release.state == ReleaseState.WITHDRAWN.value,
        )
    )
    found = list(rows)
    if not found:
        return []
    session.execute(
        update(CampaignDevice)
        .where(CampaignDevice.id.in_([row_id for row_id, *_rest in found]))
        .values(status=DeviceStatus.WAITING.value, install_after=None, install_before=None)
    )
    release_instructions(session, campaign.id, [pk for _id, pk, *_rest in found])
    payload = {
        "devices": sorted(device for *_ids, device, _version in found),
        "withdrawn_versions": sorted({version for *_ids, version in found}),
    }
    return [event(campaign, SYSTEM_ACTOR, "step_withdrawn", payload)]
