"""Which waiting devices of a running campaign get their instruction now, and taking them.

``refresh_waiting`` applies hospital acceptance to every device without an instruction: at a
site that has not accepted the release it awaits acceptance; a production device of a site
whose test devices in the campaign have not all succeeded, or that has not confirmed
production, is held; the others wait for their turn.

``assign_due`` gives instructions to the waiting devices of the started phases that
``startable.startable`` lets start now: inside (or within the download lead of) their site's
maintenance window, which the instruction carries as its install window, or at once and
without a window for a critical campaign at a site that consented to out-of-cycle installs;
no more than the exponential rate allows (``progress.allowed_now``). Each device is routed
again from what it runs now (``campaign_model.Router``): one that already runs the target
succeeds without an install, one that can no longer reach it is let go (``cancelled``).

A device is taken by inserting its ``ActiveAssignment`` row with ``INSERT ... ON CONFLICT``:
a device that has a live row of another campaign (or one of another worker's uncommitted
transaction, which the insert waits for) is not taken and stays waiting; a row whose
instruction is being withdrawn is taken over (the new instruction replaces the old one). Rows
are inserted in device order, so two workers never wait for each other in a cycle. Both
functions run in the scheduler's transaction on a locked campaign row and return their audit
events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from medfleet.audit.model import NewEvent
from medfleet.db.dialect import on_postgresql
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.rollouts.campaign_model import (
    UNASSIGNED,
    DeviceStatus,
    Router,
    held_sites,
    unassigned_status,
)
from medfleet.rollouts.campaign_rows import event
from medfleet.rollouts.compat import Ineligible, ReleaseInfo
from medfleet.rollouts.fleet_loader import SiteFacts, openings_of
from medfleet.rollouts.outcomes import SYSTEM_ACTOR
from medfleet.rollouts.policy import CANARY_PHASE, Policy
from medfleet.rollouts.progress import allowed_now
from medfleet.rollouts.startable import InstallWindow, StartDecision, startable
from medfleet.rollouts.tables import ActiveAssignment, Campaign, CampaignDevice

_CHUNK = 500


def refresh_waiting(
    session: Session, campaign: Campaign, facts: SiteFacts
) -> tuple[frozenset[int], list[NewEvent]]:
    """Set every uninstructed device's status from its site's stance and test devices
    (see the module docstring); returns the held sites and the audit event of the changes."""
    test_devices = session.execute(
        select(Device.site_id, CampaignDevice.status)
        .join(Device, Device.id == CampaignDevice.device_pk)
        .where(CampaignDevice.campaign_id == campaign.id, CampaignDevice.phase == CANARY_PHASE)
    )
    held = held_sites(test_devices, facts.confirmed)
    rows = session.execute(
        select(CampaignDevice.id, CampaignDevice.phase, CampaignDevice.status, Device.site_id)
        .join(Device, Device.id == CampaignDevice.device_pk)
        .where(
            CampaignDevice.campaign_id == campaign.id,
            CampaignDevice.status.in_([status.value for status in UNASSIGNED]),
        )
    )
    moves: dict[str, list[int]] = defaultdict(list)
    for row_id, phase, status, site in rows:
        wanted = unassigned_status(phase, site, accepted=facts.accepted, held=held).value
        if wanted != status:
            moves[wanted].append(row_id)
    for status, ids in moves.items():
        for offset in range(0, len(ids), 1000):
            session.execute(
                update(CampaignDevice)
                .where(CampaignDevice.id.in_(ids[offset : offset + 1000]))
                .values(status=status)
            )
    if not moves:
        return held, []
    counts = {status: len(ids) for status, ids in sorted(moves.items())}
    return held, [event(campaign, SYSTEM_ACTOR, "devices_gated", {"now": counts})]


@dataclass(frozen=True, slots=True)
class _Candidate:
    row_id: int
    device_pk: int
    device_id: str
    phase: int
    site: int
    model: str
    revision: str
    installed: int | None


def _limit(
    session: Session, campaign: Campaign, policy: Policy, waiting: int, now: datetime
) -> int | None:
    if policy.rate is None:
        return None
    recent = session.scalar(
        select(func.count()).where(
            ActiveAssignment.campaign_id == campaign.id,
            ActiveAssignment.assigned_at > now - timedelta(minutes=1),
        )
    )
    succeeded = session.scalar(
        select(func.count()).where(
            CampaignDevice.campaign_id == campaign.id,
            CampaignDevice.status == DeviceStatus.SUCCEEDED.value,
        )
    )
    return allowed_now(
        policy.rate,
        waiting=waiting,
        notified=campaign.notified,
        succeeded=succeeded or 0,
        notified_last_minute=recent or 0,
    )


def _decide(
    found: list[_Candidate],
    *,
    campaign: Campaign,
    policy: Policy,
    facts: SiteFacts,
    held: frozenset[int],
    openings: dict[int, Any],
    limit: int | None,
    min_window: timedelta,
    now: datetime,
) -> list[StartDecision]:
    decisions = []
    for canary in (True, False):
        part = [c for c in found if (c.phase == CANARY_PHASE) == canary]
        decision = startable(
            [c.row_id for c in part],
            [c.site for c in part],
            phase_index=CANARY_PHASE if canary else max(campaign.current_phase, 1),
            now=now,
            windows=openings,
            urgency=policy.urgency,
            out_of_cycle_sites=facts.out_of_cycle,
            held_sites=held,
            limit=limit,
            min_window=min_window,
        )
        decisions.append(decision)
        if limit is not None:
            limit -= decision.count
    return decisions


def claim(session: Session, rows: list[dict[str, Any]]) -> set[int]:
    """Insert ``ActiveAssignment`` rows (in device order) unless the device has one already;
    a row whose instruction is being withdrawn (``clear_pending``) is taken over, since the new
    instruction replaces the old one in the director just as a clear would. Returns the
    devices taken."""
    insert = postgresql.insert if on_postgresql(session) else sqlite.insert
    taken: set[int] = set()
    ordered = sorted(rows, key=lambda row: int(row["device_pk"]))
    for offset in range(0, len(ordered), _CHUNK):
        values = insert(ActiveAssignment).values(ordered[offset : offset + _CHUNK])
        upsert = values.on_conflict_do_update(
            index_elements=[ActiveAssignment.device_pk],
            set_={
                "campaign_id": values.excluded.campaign_id,
                "campaign_device_id": values.excluded.campaign_device_id,
                "release_pk": values.excluded.release_pk,
                "assigned_at": values.excluded.assigned_at,
                "instructed_at": None,
                "clear_pending": False,
                "error": None,
            },
            where=ActiveAssignment.clear_pending.is_(True),
        )
        taken.update(session.scalars(upsert.returning(ActiveAssignment.device_pk)))
    return taken


def assign_due(
    session: Session,
    campaign: Campaign,
    *,
    policy: Policy,
    router: Router,
    facts: SiteFacts,
    held: frozenset[int],
    now: datetime,
) -> list[NewEvent]:
    """Instruct the devices that may start now (see the module docstring); returns the audit
    event listing them per site with their release and install window."""
    found = [
        _Candidate(row_id, pk, device_id, phase, site, model, revision, installed)
        for row_id, pk, device_id, phase, site, model, revision, installed in session.execute(
            select(
                CampaignDevice.id,
                CampaignDevice.device_pk,
                Device.device_id,
                CampaignDevice.phase,
                Device.site_id,
                Device.model,
                Device.hardware_revision,
                Device.installed_version_number,
            )
            .join(Device, Device.id == CampaignDevice.device_pk)
            .where(
                CampaignDevice.campaign_id == campaign.id,
                CampaignDevice.status == DeviceStatus.WAITING.value,
                CampaignDevice.phase <= campaign.current_phase,
                Device.site_id.is_not(None),
            )
            .order_by(CampaignDevice.phase, CampaignDevice.id)
        )
        if site is not None  # the query leaves out devices without a site
    ]
    if not found:
        return []
    target = session.get(Release, campaign.release_pk)
    assert target is not None  # a foreign key
    downtime = timedelta(minutes=target.notes_downtime_minutes or 0)
    decisions = _decide(
        found,
        campaign=campaign,
        policy=policy,
        facts=facts,
        held=held,
        openings=openings_of(session, {c.site for c in found}, now),
        limit=_limit(session, campaign, policy, len(found), now),
        min_window=downtime,
        now=now,
    )
    by_row = {c.row_id: c for c in found}
    wanted: list[dict[str, Any]] = []
    planned: dict[int, tuple[_Candidate, ReleaseInfo, InstallWindow | None]] = {}
    settled: dict[str, list[str]] = defaultdict(list)
    for batch in (b for decision in decisions for b in decision.batches):
        for row_id in batch.devices:
            candidate = by_row[row_id]
            if router.arrived(candidate.installed):
                _settle(session, row_id, DeviceStatus.SUCCEEDED, "already runs it", now)
                settled["already_there"].append(candidate.device_id)
                continue
            step = router.next_step(candidate.model, candidate.revision, candidate.installed)
            if isinstance(step, Ineligible):
                _settle(session, row_id, DeviceStatus.CANCELLED, step.message, now)
                settled["cancelled"].append(candidate.device_id)
                continue
            planned[candidate.device_pk] = (candidate, step.release, batch.window)
            wanted.append(
                {
                    "device_pk": candidate.device_pk,
                    "campaign_id": campaign.id,
                    "campaign_device_id": row_id,
                    "release_pk": step.release.pk,
                    "assigned_at": now,
                    "instructed_at": None,
                    "clear_pending": False,
                }
            )
    taken = claim(session, wanted) if wanted else set()
    updates = []
    for pk in sorted(taken):
        candidate, release, window = planned[pk]
        updates.append(
            {
                "id": candidate.row_id,
                "status": DeviceStatus.ASSIGNED.value,
                "step_release_pk": release.pk,
                "assigned_at": now,
                "install_after": None if window is None else window.start,
                "install_before": None if window is None else window.end,
                "from_version_number": candidate.installed,
            }
        )
    if updates:
        session.execute(update(CampaignDevice), updates)
    campaign.notified += len(taken)
    return _events(campaign, planned, taken, settled)


def _settle(
    session: Session, row_id: int, status: DeviceStatus, detail: str, now: datetime
) -> None:
    session.execute(
        update(CampaignDevice)
        .where(CampaignDevice.id == row_id)
        .values(status=status.value, detail=detail, finished_at=now)
    )


def _events(
    campaign: Campaign,
    planned: dict[int, tuple[_Candidate, ReleaseInfo, InstallWindow | None]],
    taken: set[int],
    settled: dict[str, list[str]],
) -> list[NewEvent]:
    groups: dict[tuple[int, str, str | None, str | None], list[str]] = defaultdict(list)
    for pk in taken:
        candidate, release, window = planned[pk]
        start = None if window is None else window.start.isoformat()
        end = None if window is None else window.end.isoformat()
        groups[(candidate.site, release.release_id, start, end)].append(candidate.device_id)
    if not (groups or settled):
        return []  # devices busy elsewhere change nothing: no event, so a cycle stays idempotent
    busy = sorted(planned[pk][0].device_id for pk in planned.keys() - taken)
    assignments = [
        {
            "site_id": site,
            "release": release_id,
            "window": None if start is None else {"start": start, "end": end},
            "devices": sorted(devices),
        }
        for (site, release_id, start, end), devices in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
        )
    ]
    payload: dict[str, Any] = {"assignments": assignments}
    if busy:
        payload["busy_elsewhere"] = busy
    payload.update({name: sorted(devices) for name, devices in settled.items()})
    return [event(campaign, SYSTEM_ACTOR, "devices_assigned", payload)]
